#include "isolators/capabilities.hpp"

#include <linux/capability.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace stoa::isolators {
namespace {

constexpr std::array<std::pair<const char*, int>, 41> kNames = {{
    {"CHOWN", CAP_CHOWN},
    {"DAC_OVERRIDE", CAP_DAC_OVERRIDE},
    {"DAC_READ_SEARCH", CAP_DAC_READ_SEARCH},
    {"FOWNER", CAP_FOWNER},
    {"FSETID", CAP_FSETID},
    {"KILL", CAP_KILL},
    {"SETGID", CAP_SETGID},
    {"SETUID", CAP_SETUID},
    {"SETPCAP", CAP_SETPCAP},
    {"LINUX_IMMUTABLE", CAP_LINUX_IMMUTABLE},
    {"NET_BIND_SERVICE", CAP_NET_BIND_SERVICE},
    {"NET_BROADCAST", CAP_NET_BROADCAST},
    {"NET_ADMIN", CAP_NET_ADMIN},
    {"NET_RAW", CAP_NET_RAW},
    {"IPC_LOCK", CAP_IPC_LOCK},
    {"IPC_OWNER", CAP_IPC_OWNER},
    {"SYS_MODULE", CAP_SYS_MODULE},
    {"SYS_RAWIO", CAP_SYS_RAWIO},
    {"SYS_CHROOT", CAP_SYS_CHROOT},
    {"SYS_PTRACE", CAP_SYS_PTRACE},
    {"SYS_PACCT", CAP_SYS_PACCT},
    {"SYS_ADMIN", CAP_SYS_ADMIN},
    {"SYS_BOOT", CAP_SYS_BOOT},
    {"SYS_NICE", CAP_SYS_NICE},
    {"SYS_RESOURCE", CAP_SYS_RESOURCE},
    {"SYS_TIME", CAP_SYS_TIME},
    {"SYS_TTY_CONFIG", CAP_SYS_TTY_CONFIG},
    {"MKNOD", CAP_MKNOD},
    {"LEASE", CAP_LEASE},
    {"AUDIT_WRITE", CAP_AUDIT_WRITE},
    {"AUDIT_CONTROL", CAP_AUDIT_CONTROL},
    {"SETFCAP", CAP_SETFCAP},
    {"MAC_OVERRIDE", CAP_MAC_OVERRIDE},
    {"MAC_ADMIN", CAP_MAC_ADMIN},
    {"SYSLOG", CAP_SYSLOG},
    {"WAKE_ALARM", CAP_WAKE_ALARM},
    {"BLOCK_SUSPEND", CAP_BLOCK_SUSPEND},
    {"AUDIT_READ", CAP_AUDIT_READ},
    {"PERFMON", CAP_PERFMON},
    {"BPF", CAP_BPF},
    {"CHECKPOINT_RESTORE", CAP_CHECKPOINT_RESTORE},
}};
static_assert(kNames.size() == CAP_LAST_CAP + 1, "every capability has a name");

CapabilitySet Bit(int capability) { return CapabilitySet{1} << capability; }

std::string Upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

CapabilitySet AllCapabilities() {
  CapabilitySet all = 0;
  for (const auto& [name, capability] : kNames) all |= Bit(capability);
  return all;
}

CapabilitySet DefaultTaskCapabilities() {
  return Bit(CAP_CHOWN) | Bit(CAP_DAC_OVERRIDE) | Bit(CAP_FOWNER) | Bit(CAP_FSETID) |
         Bit(CAP_KILL) | Bit(CAP_SETGID) | Bit(CAP_SETUID) | Bit(CAP_SETPCAP) |
         Bit(CAP_NET_BIND_SERVICE) | Bit(CAP_NET_RAW) | Bit(CAP_SYS_CHROOT) | Bit(CAP_MKNOD) |
         Bit(CAP_AUDIT_WRITE) | Bit(CAP_SETFCAP);
}

Result<CapabilitySet> ParseCapabilities(std::string_view text) {
  std::string whole = Upper(Trim(text));
  if (whole == "ALL") return AllCapabilities();
  if (whole == "NONE" || whole.empty()) return CapabilitySet{0};
  CapabilitySet set = 0;
  std::string unknown;
  std::string_view rest = whole;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (item.empty()) continue;
    if (item.starts_with("CAP_")) item.remove_prefix(4);
    auto found = std::find_if(kNames.begin(), kNames.end(),
                              [&](const auto& entry) { return item == entry.first; });
    if (found == kNames.end()) {
      unknown += (unknown.empty() ? "" : ", ") + std::string(item);
    } else {
      set |= Bit(found->second);
    }
  }
  if (!unknown.empty()) {
    return Status::Error(
        "unknown capabilit" + std::string(unknown.find(',') == std::string::npos ? "y " : "ies ") +
        unknown + " (names as in capabilities(7), e.g. NET_BIND_SERVICE; or all, none)");
  }
  return set;
}

std::string FormatCapabilities(CapabilitySet set) {
  std::string out;
  for (const auto& [name, capability] : kNames) {
    if ((set & Bit(capability)) != 0) out += (out.empty() ? "" : ",") + std::string(name);
  }
  return out.empty() ? "none" : out;
}

}  // namespace stoa::isolators
