// Version vectors: {"site:incarnation": max origin_seq}. Because origin_seq is
// gapless per origin, a vector says exactly which journal entries a site holds.
#pragma once
#include "rulekeeper/no_postgres.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rulekeeper {

struct Origin {
  std::string site;
  std::int32_t incarnation = 0;
  std::string key() const;                       // "site:incarnation"
  static Origin from_key(std::string_view key);  // splits at the LAST ':'; throws Error(invalid_input)
  bool operator<(const Origin& o) const { return site < o.site || (site == o.site && incarnation < o.incarnation); }
  bool operator==(const Origin& o) const { return site == o.site && incarnation == o.incarnation; }
};

// The entries (from_seq, to_seq] of one origin that one vector holds and another lacks.
struct SeqRange {
  Origin origin;
  std::int64_t after = 0;  // exclusive
  std::int64_t upto = 0;   // inclusive
  std::int64_t count() const { return upto - after; }
  std::string describe() const;  // "ipc2:1 needs 57, has 50"
};

class VersionVector {
public:
  VersionVector() = default;
  // Parses {"site:incarnation": n, ...} (n a non-negative integer). Throws
  // Error(invalid_json / invalid_input).
  static VersionVector from_json(std::string_view json_text);
  std::string to_json() const;  // keys sorted, compact: {"e1:1":3,"ipc2:2":7}

  std::int64_t get(const Origin& o) const;          // 0 if absent
  void set(const Origin& o, std::int64_t seq);      // seq >= 0; 0 erases
  void observe(const Origin& o, std::int64_t seq);  // set to max(current, seq)

  void merge(const VersionVector& other);                                // pointwise max
  bool covers(const VersionVector& other) const;                         // >= pointwise
  std::vector<SeqRange> missing_from(const VersionVector& other) const;  // what *this holds that other lacks
  std::int64_t total() const;                                            // sum of seqs (entries held)

  const std::map<Origin, std::int64_t>& entries() const { return seqs_; }
  bool operator==(const VersionVector& o) const { return seqs_ == o.seqs_; }

private:
  std::map<Origin, std::int64_t> seqs_;
};

}  // namespace rulekeeper
