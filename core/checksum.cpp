// Content checksums, entry digests, buckets and the AdHash set sum: the
// on-the-wire format of docs/design/contract.md "Checksums". Any tool must be able to
// recompute these, so nothing here may depend on platform or locale.
#include "rulekeeper/checksum.hpp"

#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/error.hpp"
#include "rulekeeper/json.hpp"

namespace rulekeeper {
namespace {

const char* type_phrase(JsonValue::Type t) {
  switch (t) {
    case JsonValue::Type::null: return "null";
    case JsonValue::Type::boolean: return "a boolean";
    case JsonValue::Type::number: return "a number";
    case JsonValue::Type::string: return "a string";
    case JsonValue::Type::array: return "an array";
    case JsonValue::Type::object: return "an object";
  }
  return "an unknown type";
}

}  // namespace

std::string content_sha256(const Sha256& sha, std::string_view body_json) {
  JsonValue body = parse_json(body_json);
  if (body.type != JsonValue::Type::object)
    throw Error(ErrorKind::invalid_input,
                std::string("a rule body must be a JSON object, not ") + type_phrase(body.type));
  return to_hex(sha.digest(canonicalize(body)));
}

// The NUL separators make the encoding unambiguous: a rule_key or label
// cannot contain NUL (PostgreSQL text cannot hold it), so no two
// (key, label, checksum) triples share an input.
Digest entry_digest(const Sha256& sha, std::string_view rule_key, std::string_view label,
                    std::string_view content_sha256_hex) {
  std::string buf;
  buf.reserve(rule_key.size() + label.size() + content_sha256_hex.size() + 2);
  buf.append(rule_key);
  buf += '\0';
  buf.append(label);
  buf += '\0';
  buf.append(content_sha256_hex);
  return sha.digest(buf);
}

int bucket_of(const Sha256& sha, std::string_view rule_key) {
  Digest d = sha.digest(rule_key);
  return (d[0] << 4) | (d[1] >> 4);
}

SetSum SetSum::from_hex(std::string_view hex) { return SetSum(digest_from_hex(hex)); }

// Big-endian: byte 31 is the least significant, so the carry runs from the
// end towards the front and whatever leaves byte 0 is dropped (mod 2^256).
SetSum& SetSum::add(const Digest& d) noexcept {
  unsigned carry = 0;
  for (std::size_t i = bytes_.size(); i-- > 0;) {
    unsigned sum = unsigned{bytes_[i]} + unsigned{d[i]} + carry;
    bytes_[i] = static_cast<std::uint8_t>(sum & 0xFF);
    carry = sum >> 8;
  }
  return *this;
}

SetSum& SetSum::subtract(const Digest& d) noexcept {
  int borrow = 0;
  for (std::size_t i = bytes_.size(); i-- > 0;) {
    int diff = int{bytes_[i]} - int{d[i]} - borrow;
    borrow = diff < 0 ? 1 : 0;
    bytes_[i] = static_cast<std::uint8_t>(diff + (borrow << 8));
  }
  return *this;
}

bool SetSum::is_zero() const {
  for (std::uint8_t b : bytes_)
    if (b) return false;
  return true;
}

std::string SetSum::hex() const { return to_hex(bytes_); }

}  // namespace rulekeeper
