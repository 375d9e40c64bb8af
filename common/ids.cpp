// Random identifiers: each thread owns a 64-bit Mersenne Twister seeded from
// std::random_device, so generation needs no lock and no two threads share state.
#include "common/ids.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <random>
#include <stdexcept>

namespace stoa {

namespace {

std::mt19937_64& ThreadGenerator() {
  thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::array<std::random_device::result_type, 8> seed;
    for (auto& word : seed) word = device();
    std::seed_seq sequence(seed.begin(), seed.end());
    return std::mt19937_64(sequence);
  }();
  return generator;
}

}  // namespace

std::string NewUuid() {
  std::mt19937_64& generator = ThreadGenerator();
  uint64_t high = generator();
  uint64_t low = generator();
  // RFC 4122 version 4 (random) and variant 1 bits.
  high = (high & ~uint64_t{0xF000}) | uint64_t{0x4000};
  low = (low & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
    uint64_t word = i < 16 ? high : low;
    int shift = 60 - 4 * (i % 16);
    out += kHex[(word >> shift) & 0xF];
  }
  return out;
}

std::string NewSecret() {
  std::array<unsigned char, 16> bytes{};
  size_t filled = 0;
  while (filled < bytes.size()) {
    ssize_t got = getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw std::runtime_error("getrandom failed: no secret can be made");
    filled += static_cast<size_t>(got);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (unsigned char byte : bytes) {
    out += kHex[byte >> 4];
    out += kHex[byte & 0xF];
  }
  return out;
}

std::string NewId(const std::string& prefix) {
  // Both NewId("agent") and NewId("agent-") give "agent-<uuid>".
  if (prefix.empty() || prefix.back() == '-') return prefix + NewUuid();
  return prefix + "-" + NewUuid();
}

}  // namespace stoa
