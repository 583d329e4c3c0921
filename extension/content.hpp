// Checksum computations the glue needs, exposed as plain C-style calls: the
// C++ core runs inside guarded(), so callers may hold no C++ objects and may
// ereport freely around these calls.
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
}

namespace rulekeeper::pg::content {

// The JSON text of a jsonb value (palloc'd).
char* jsonb_text(Jsonb* body);
// JCS form of a JSON text (palloc'd). ERROR for inexact numbers, bad JSON.
char* canonical(const char* json_text);
// Lowercase hex SHA-256 of the JCS form of an object body (palloc'd, 64 chars).
char* content_sha256(const char* json_text);
// SHA-256(rule_key 0x00 label 0x00 content_sha256_hex) into out[32].
void entry_digest(const char* rule_key, const char* label, const char* content_hex, uint8* out);
// First 12 bits of SHA-256(rule_key).
int bucket_of(const char* rule_key);
// Label text "N" or "N.k" (palloc'd).
char* label_text(int32 version, int32 hotfix);

}  // namespace rulekeeper::pg::content
