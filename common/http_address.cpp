#include "common/http_address.hpp"

#include <algorithm>
#include <cctype>

namespace stoa {

std::string HttpAddress::Url() const { return "http://" + host + ":" + std::to_string(port); }

Result<HttpAddress> ParseHttpAddress(const std::string& text, int default_port) {
  std::string rest = text;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (rest.find("://") != std::string::npos) {
    return Status::Error("'" + text + "' is not http://HOST:PORT (only plain http is spoken)");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) {
    return Status::Error("'" + text + "' is not http://HOST:PORT: it has a path");
  }
  HttpAddress address;
  address.port = default_port;
  size_t colon = rest.rfind(':');
  address.host = rest.substr(0, colon);
  if (colon != std::string::npos) {
    std::string port = rest.substr(colon + 1);
    bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
      return Status::Error("'" + text + "' is not http://HOST:PORT: '" + port +
                           "' is not a port (1 to 65535)");
    }
    address.port = std::stoi(port);
  }
  if (address.host.empty()) return Status::Error("'" + text + "' is not http://HOST:PORT: no host");
  return address;
}

}  // namespace stoa
