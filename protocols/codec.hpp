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
// Frames larger than this are refused before decoding (as large as the
// transport's default EndpointLimits::max_message_bytes).
inline constexpr size_t kMaxFrameBytes = 64 * 1024 * 1024;

std::string Encode(const Message& message);
Result<Message> Decode(std::string_view frame);
// The answer to a frame that does not decode: a ProtocolError saying why.
std::string EncodeRefusal(const std::string& error);

// Records for storage: one value each, no envelope, with the same checks.
std::string EncodeRecord(const AgentRecord& record);
std::string EncodeRecord(const FrameworkInfo& record);
std::string EncodeRecord(const ExecutorRecord& record);
std::string EncodeRecord(const TaskRecord& record);
Result<AgentRecord> DecodeAgentRecord(std::string_view bytes);
Result<FrameworkInfo> DecodeFrameworkRecord(std::string_view bytes);
Result<ExecutorRecord> DecodeExecutorRecord(std::string_view bytes);
Result<TaskRecord> DecodeTaskRecord(std::string_view bytes);

}  // namespace stoa
