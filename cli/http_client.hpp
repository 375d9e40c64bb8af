// What the CLI's clients of frameworks' JSON APIs (`stoa app`, `stoa job`)
// share: where the framework is (a flag, else an environment variable, else
// where `stoa up` starts it), and one request whose failures and refusals read
// as a person can act on them.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "common/http_address.hpp"
#include "common/http_server.hpp"
#include "common/status.hpp"

namespace stoa::cli {

// Which framework a client talks to, for its address and its messages.
struct FrameworkApi {
  const char* name;          // "service framework"
  const char* flag;          // "--service"
  const char* env;           // "STOA_SERVICE"
  const char* default_url;   // where it is when neither the flag nor the variable says
  int default_port;          // for an address without one
  const char* how_to_start;  // "start one with `stoa up` or `stoa service`"
  // The text for an answer that is not 2xx (DescribeRefusal, or the API's own).
  std::string (*describe_refusal)(const HttpReply& reply);
};

// The address `flag_value` gives, else $api.env, else api.default_url; an
// error that names where the malformed text came from ("--service: ...").
Result<HttpAddress> ResolveAddress(const FrameworkApi& api, const std::string& flag_value);

// The text for a refusal (4xx/5xx) of Marathon's and Metronome's shape:
// {"message", "details": [{"path", "errors"}]} as "message (HTTP 422)" and
// one "  PATH: error" line per error; the body itself when it has no message.
std::string DescribeRefusal(const HttpReply& reply);

class ApiClient {
 public:
  // REQUIRES: `api` outlives the client.
  ApiClient(const FrameworkApi& api, HttpAddress address)
      : api_(&api), address_(std::move(address)) {}

  // The framework's answer, whatever its status; an error only when nothing
  // answered, saying so with the address and how to start or point at one
  // (connecting gives up after 5 s).
  Result<HttpReply> Call(const std::string& method, const std::string& path,
                         const std::string& body = "");
  // Call, then the body parsed as JSON when the status is 2xx; otherwise an
  // error made of Refusal(reply).
  Result<nlohmann::json> Json(const std::string& method, const std::string& path,
                              const std::string& body = "");
  // The text for an answer that is not 2xx, as this framework's API words it.
  std::string Refusal(const HttpReply& reply) const { return api_->describe_refusal(reply); }

  const HttpAddress& address() const { return address_; }
  const FrameworkApi& api() const { return *api_; }

 private:
  const FrameworkApi* api_;
  HttpAddress address_;
};

// "a%2Fb" for "a/b": every character outside [A-Za-z0-9-._~] percent-encoded,
// and '/' too unless `keep_slashes`.
std::string PercentEncode(const std::string& text, bool keep_slashes = false);

}  // namespace stoa::cli
