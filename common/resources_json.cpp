#include "common/resources_json.hpp"

namespace stoa {

nlohmann::json ResourcesJson(const Resources& resources) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& name : resources.ScalarNames()) out[name] = resources.Get(name);
  for (const auto& entry : resources.entries()) {
    if (entry.type == Resource::Type::kRanges && !out.contains(entry.name)) {
      Resources only = resources.Filter([&](const Resource& r) { return r.name == entry.name; });
      std::string text = only.ToString();
      auto colon = text.find(':');
      out[entry.name] = colon == std::string::npos ? text : text.substr(colon + 1);
    }
  }
  return out;
}

}  // namespace stoa
