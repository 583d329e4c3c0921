// Version vectors {"site:incarnation": max origin_seq}: which journal entries a
// site holds (origin_seq is gapless per origin), how two sites compare, and
// which ranges one must send the other.
#include "rulekeeper/version_vector.hpp"

#include "rulekeeper/error.hpp"
#include "rulekeeper/json.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace rulekeeper {
namespace {

// Parses a non-negative decimal without sign or leading zero into [0, max];
// false otherwise. Strict so that one origin or count has one spelling.
bool parse_unsigned(std::string_view s, std::int64_t max, std::int64_t& out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (v > (max - (c - '0')) / 10) return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

void check_origin(const Origin& o) {
  if (o.site.empty() || o.incarnation < 1)
    throw Error(ErrorKind::invalid_input,
                "invalid origin '" + o.key() + "': needs a non-empty site and an incarnation >= 1");
}

void check_seq(const Origin& o, std::int64_t seq) {
  if (seq < 0)
    throw Error(ErrorKind::invalid_input,
                "invalid sequence " + std::to_string(seq) + " for origin '" + o.key() + "': must be >= 0");
}

// JSON string for a key; site names are plain identifiers in practice, but
// nothing stops a quote or a control character, so escape as JCS does.
void write_json_string(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else {
      out += ch;
    }
  }
  out += '"';
}

}  // namespace

std::string Origin::key() const { return site + ":" + std::to_string(incarnation); }

// The LAST ':' separates, so a site name may itself contain ':'.
Origin Origin::from_key(std::string_view key) {
  std::size_t colon = key.rfind(':');
  std::int64_t inc = 0;
  if (colon == std::string_view::npos || colon == 0 ||
      !parse_unsigned(key.substr(colon + 1), std::numeric_limits<std::int32_t>::max(), inc) || inc < 1)
    throw Error(ErrorKind::invalid_input,
                "invalid origin '" + std::string(key) +
                    "': expected 'site:incarnation' with a non-empty site and an incarnation >= 1");
  return Origin{std::string(key.substr(0, colon)), static_cast<std::int32_t>(inc)};
}

// Uses the strict core parser rather than a lenient one so that a duplicated
// origin is an error, not a silent last-wins.
VersionVector VersionVector::from_json(std::string_view json_text) {
  JsonValue v = parse_json(json_text);
  if (v.type != JsonValue::Type::object)
    throw Error(ErrorKind::invalid_input, "a version vector must be a JSON object {\"site:incarnation\": seq, ...}");
  VersionVector out;
  for (const auto& [name, value] : v.members) {
    Origin o = Origin::from_key(name);
    std::int64_t seq = 0;
    if (value.type != JsonValue::Type::number ||
        !parse_unsigned(value.text, std::numeric_limits<std::int64_t>::max(), seq))
      throw Error(ErrorKind::invalid_input,
                  "invalid version vector entry for '" + name + "': expected a non-negative integer");
    out.set(o, seq);
  }
  return out;
}

std::string VersionVector::to_json() const {
  // std::map orders by (site, incarnation) numerically; the output is
  // ordered by the key text, so that equal vectors print equal bytes.
  std::vector<std::pair<std::string, std::int64_t>> rows;
  rows.reserve(seqs_.size());
  for (const auto& [o, seq] : seqs_) rows.emplace_back(o.key(), seq);
  std::sort(rows.begin(), rows.end());
  std::string out = "{";
  for (const auto& [k, seq] : rows) {
    if (out.size() > 1) out += ',';
    write_json_string(out, k);
    out += ':';
    out += std::to_string(seq);
  }
  out += '}';
  return out;
}

std::int64_t VersionVector::get(const Origin& o) const {
  auto it = seqs_.find(o);
  return it == seqs_.end() ? 0 : it->second;
}

void VersionVector::set(const Origin& o, std::int64_t seq) {
  check_origin(o);
  check_seq(o, seq);
  if (seq == 0)
    seqs_.erase(o);  // 0 and absent mean the same: keeps operator== honest
  else
    seqs_[o] = seq;
}

void VersionVector::observe(const Origin& o, std::int64_t seq) {
  check_origin(o);
  check_seq(o, seq);
  if (seq > get(o)) seqs_[o] = seq;
}

void VersionVector::merge(const VersionVector& other) {
  for (const auto& [o, seq] : other.seqs_) observe(o, seq);
}

bool VersionVector::covers(const VersionVector& other) const {
  for (const auto& [o, seq] : other.seqs_)
    if (get(o) < seq) return false;
  return true;
}

std::vector<SeqRange> VersionVector::missing_from(const VersionVector& other) const {
  std::vector<SeqRange> out;
  for (const auto& [o, seq] : seqs_) {
    std::int64_t theirs = other.get(o);
    if (seq > theirs) out.push_back(SeqRange{o, theirs, seq});
  }
  return out;
}

std::int64_t VersionVector::total() const {
  std::int64_t sum = 0;
  for (const auto& [o, seq] : seqs_) sum += seq;
  return sum;
}

std::string SeqRange::describe() const {
  return origin.key() + " needs " + std::to_string(upto) + ", has " + std::to_string(after);
}

}  // namespace rulekeeper
