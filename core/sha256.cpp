// Hex encoding of SHA-256 digests, shared by every Sha256 implementation
// (OpenSSL outside the server, pg_cryptohash inside it).
#include "rulekeeper/sha256.hpp"

#include "rulekeeper/error.hpp"

namespace rulekeeper {

std::string to_hex(const Digest& digest) {
  static const char hex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 0xF];
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

// Accepts either case because people paste digests from tools that print
// uppercase; everything rulekeeper writes is lowercase.
Digest digest_from_hex(std::string_view hex) {
  auto reject = [&]() {
    std::string shown(hex.substr(0, 80));
    if (hex.size() > 80) shown += "...";
    return Error(ErrorKind::invalid_input, "invalid SHA-256 digest '" + shown + "': expected exactly 64 hex digits");
  };
  if (hex.size() != 64) throw reject();
  Digest d{};
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) throw reject();
    d[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return d;
}

}  // namespace rulekeeper
