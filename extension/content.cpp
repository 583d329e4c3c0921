// Bridges from PostgreSQL values to the core's checksum functions (see content.hpp).
#include "content.hpp"

#include "guard.hpp"
#include "pg_sha256.hpp"
#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/checksum.hpp"
#include "rulekeeper/label.hpp"

#include <cstring>
#include <string>

namespace rulekeeper::pg::content {
namespace {

// Copies a C++ string into palloc'd memory from inside a guarded body.
char* to_palloc(const std::string& s) { return palloc_copy(s.data(), s.size()); }

}  // namespace

char* jsonb_text(Jsonb* body) { return JsonbToCString(nullptr, &body->root, VARSIZE(body)); }

char* canonical(const char* json_text) {
  return guarded([&] { return to_palloc(canonicalize_text(json_text)); });
}

char* content_sha256(const char* json_text) {
  return guarded([&] { return to_palloc(rulekeeper::content_sha256(server_sha256(), json_text)); });
}

void entry_digest(const char* rule_key, const char* label, const char* content_hex, uint8* out) {
  guarded([&] {
    Digest d = rulekeeper::entry_digest(server_sha256(), rule_key, label, content_hex);
    std::memcpy(out, d.data(), d.size());
  });
}

int bucket_of(const char* rule_key) {
  // The last key's bucket is remembered (a pure function of the key): the
  // versions of one rule arrive together (import_release inserts them
  // sorted by rule), and each would hash the same key again.
  static char last_key[256];
  static int last_bucket = -1;
  const std::size_t length = std::strlen(rule_key);
  if (last_bucket >= 0 && length < sizeof last_key && std::memcmp(last_key, rule_key, length + 1) == 0)
    return last_bucket;
  const int bucket = guarded([&] { return rulekeeper::bucket_of(server_sha256(), rule_key); });
  if (length < sizeof last_key) {
    std::memcpy(last_key, rule_key, length + 1);
    last_bucket = bucket;
  }
  return bucket;
}

char* label_text(int32 version, int32 hotfix) {
  return guarded([&] {
    if (version < 1 || hotfix < 0)
      throw Error(ErrorKind::invalid_input, "version must be >= 1 and hotfix >= 0, got version " +
                                                std::to_string(version) + ", hotfix " + std::to_string(hotfix));
    return to_palloc(Label{version, hotfix}.text());
  });
}

}  // namespace rulekeeper::pg::content
