// What `stoa app` needs to talk to the service framework's Marathon API: where
// the service is, one request whose failures read as a person can act on them,
// and waiting for a deployment to end.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "common/http_address.hpp"
#include "common/http_server.hpp"
#include "common/status.hpp"

namespace stoa::cli {

// Where `stoa up` starts the service framework, and so where `stoa app` looks
// when neither --service nor $STOA_SERVICE says otherwise.
inline constexpr const char* kDefaultServiceUrl = "http://127.0.0.1:8080";

using ServiceAddress = HttpAddress;

// "http://HOST:PORT", "HOST:PORT" or "HOST" (port 8080), with or without a
// trailing slash; an error that says what is wrong otherwise.
inline Result<ServiceAddress> ParseServiceAddress(const std::string& text) {
  return ParseHttpAddress(text, 8080);
}

// "/v2/apps/shop/web" for "shop/web" or "/shop/web": the id made absolute and
// every character outside an app id's alphabet percent-encoded.
std::string AppPath(const std::string& id);

// The id as the service writes it: absolute, without repeated or trailing slashes.
std::string NormalizeAppId(const std::string& id);

// A JSON document, or an error that gives the line and column where it stops
// being JSON and why.
Result<nlohmann::json> ParseJsonText(const std::string& text);

class ServiceClient {
 public:
  explicit ServiceClient(ServiceAddress address) : address_(std::move(address)) {}

  // The service's answer, whatever its status; an error only when no service
  // answered, saying so with the address (connecting gives up after 5 s).
  Result<HttpReply> Call(const std::string& method, const std::string& path,
                         const std::string& body = "");
  // Call, then the body parsed as JSON when the status is 2xx; otherwise an
  // error made of the service's message and each field's path and errors.
  Result<nlohmann::json> Json(const std::string& method, const std::string& path,
                              const std::string& body = "");

  const ServiceAddress& address() const { return address_; }

 private:
  ServiceAddress address_;
};

// The text for a refusal (4xx/5xx): Marathon's {"message", "details":
// [{"path", "errors"}]} as "message" and one "  PATH: error" line per error,
// the deployments of a 409 and what to do about them.
std::string DescribeRefusal(const HttpReply& reply);

}  // namespace stoa::cli
