#include "cli/app_client.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace stoa::cli {

using json = nlohmann::json;

const FrameworkApi kServiceApi = {
    "service framework",   "--service", "STOA_SERVICE",
    kDefaultServiceUrl,    8080,        "start one with `stoa up` or `stoa service`",
    DescribeServiceRefusal};

std::string NormalizeAppId(const std::string& id) {
  std::string out;
  size_t start = 0;
  while (start <= id.size()) {
    size_t slash = std::min(id.find('/', start), id.size());
    if (slash > start) out += "/" + id.substr(start, slash - start);
    start = slash + 1;
  }
  return out.empty() ? "/" : out;
}

std::string AppPath(const std::string& id) {
  return "/v2/apps" + PercentEncode(NormalizeAppId(id), /*keep_slashes=*/true);
}

std::string DescribeServiceRefusal(const HttpReply& reply) {
  std::string text = DescribeRefusal(reply);
  json body = json::parse(reply.body, nullptr, false);
  if (reply.status == 409 && body.is_object() && body.contains("deployments")) {
    std::string ids;
    for (const auto& deployment : body["deployments"]) {
      if (!deployment.is_object() || !deployment.contains("id")) continue;
      ids += (ids.empty() ? "" : ", ") + deployment["id"].get<std::string>();
    }
    if (!ids.empty()) text += "\n  deployments in progress: " + ids;
    text += "\n  wait for them, or pass --force to supersede them";
  }
  return text;
}

}  // namespace stoa::cli
