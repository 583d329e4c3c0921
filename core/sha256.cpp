// Hex of digests, keys and signatures, shared by every Sha256 implementation
// (OpenSSL outside the server, pg_cryptohash inside it).
#include "rulekeeper/sha256.hpp"

#include "rulekeeper/error.hpp"

namespace rulekeeper {

std::string hex_encode(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
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

std::string hex_decode(std::string_view hex, const char* what) {
  if (hex.size() % 2 != 0) throw Error(ErrorKind::invalid_input, std::string(what) + " is not hex");
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) throw Error(ErrorKind::invalid_input, std::string(what) + " is not hex");
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string to_hex(const Digest& digest) {
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

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
