// Where an HTTP API is: "http://HOST:PORT", "HOST:PORT" or "HOST" (then
// `default_port`), with or without a trailing slash. One parser for every
// flag that names one (--service, --lb, an agent's address in an offer).
#pragma once

#include <string>

#include "common/status.hpp"

namespace stoa {

struct HttpAddress {
  std::string host;
  int port = 0;
  std::string Url() const;  // http://HOST:PORT
};

// The address, or an error that says what is wrong with `text`.
Result<HttpAddress> ParseHttpAddress(const std::string& text, int default_port);

}  // namespace stoa
