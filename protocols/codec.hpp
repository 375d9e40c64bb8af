// The one place where messages are encoded to and decoded from Cap'n Proto
// frames. Decoding never trusts its input: it copies unaligned frames, sets
// traversal limits, checks the protocol version and validates enum ranges, and
// returns an error that says what was wrong instead of throwing.
#pragma once

#include <string>
#include <string_view>

#include "common/status.hpp"
#include "protocols/messages.hpp"

namespace stoa {

inline constexpr uint32_t kProtocolVersion = 1;
// Frames larger than this are refused before decoding.
inline constexpr size_t kMaxFrameBytes = 64 * 1024 * 1024;

std::string Encode(const Message& message);
Result<Message> Decode(std::string_view frame);

}  // namespace stoa
