// What frameworks' JSON APIs share: JSON responses, {"message": ...} errors,
// query flags and request bodies.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/http_server.hpp"

namespace stoa::sdk {

HttpResponse JsonResponse(int status, const nlohmann::json& body);
// {"message": message}
HttpResponse MessageResponse(int status, const std::string& message);

// A boolean query flag: true/false in any case (force=False), `fallback` when
// absent; nullopt (and `*error` set to a 400) for anything else.
std::optional<bool> BoolParam(const HttpRequest& request, const std::string& name, bool fallback,
                              HttpResponse* error);
// Every value of a repeated query parameter.
std::vector<std::string> ParamValues(const HttpRequest& request, const std::string& name);

// The body as JSON; nullopt (and `*error` set to a 400 "Invalid JSON" with
// the parser's complaint) when it does not parse.
std::optional<nlohmann::json> JsonBody(const HttpRequest& request, HttpResponse* error);

}  // namespace stoa::sdk
