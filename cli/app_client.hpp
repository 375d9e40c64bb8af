// What `stoa app` needs to talk to the service framework's Marathon API: where
// the service is, app ids in URLs, and Marathon's refusals as text.
#pragma once

#include <string>

#include "cli/http_client.hpp"

namespace stoa::cli {

// Where `stoa up` starts the service framework, and so where `stoa app` looks
// when neither --service nor $STOA_SERVICE says otherwise.
inline constexpr const char* kDefaultServiceUrl = "http://127.0.0.1:8080";

// The service framework: --service, $STOA_SERVICE, kDefaultServiceUrl, port 8080.
extern const FrameworkApi kServiceApi;

using ServiceAddress = HttpAddress;

// "/v2/apps/shop/web" for "shop/web" or "/shop/web": the id made absolute and
// every character outside an app id's alphabet percent-encoded.
std::string AppPath(const std::string& id);

// The id as the service writes it: absolute, without repeated or trailing slashes.
std::string NormalizeAppId(const std::string& id);

// A client of the service framework's API (ApiClient with kServiceApi).
class ServiceClient : public ApiClient {
 public:
  explicit ServiceClient(ServiceAddress address) : ApiClient(kServiceApi, std::move(address)) {}
};

// DescribeRefusal, and for a 409 the deployments in progress and what to do
// about them.
std::string DescribeServiceRefusal(const HttpReply& reply);

}  // namespace stoa::cli
