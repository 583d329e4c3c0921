// Bundle signatures: the signed message, key ids and hex (no OpenSSL here;
// the Ed25519 calls are in ed25519_openssl.cpp).
#include "rulekeeper/signature.hpp"

#include "rulekeeper/error.hpp"

namespace rulekeeper {

std::string signing_message(std::string_view format, std::string_view bundle_sha256) {
  std::string m(kSignatureDomain);
  m.push_back('\0');
  m.append(format);
  m.push_back('\0');
  m.append(bundle_sha256);
  return m;
}

std::string key_id_of(const Sha256& sha, std::string_view raw_public_key) { return to_hex(sha.digest(raw_public_key)); }

std::string hex_encode(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

namespace {
int nibble(char c) {
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
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) throw Error(ErrorKind::invalid_input, std::string(what) + " is not hex");
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace rulekeeper
