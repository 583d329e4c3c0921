// JCS (RFC 8785) straight from jsonb's binary form: the same bytes as
// printing the jsonb as text and canonicalizing that text (the core's
// canonicalize_text), without the text round trip. Every checksum of a body
// the server computes goes through here: the BEFORE INSERT trigger,
// verify_checksums(), content_sha256(), canonical_json(), bundle checksums.
// tests/regress/sql/canonical.sql compares the two routes over a corpus of
// awkward documents.
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
}

#include <cstddef>
#include <string_view>

namespace rulekeeper::pg::jsonb_jcs {

// The JCS text of any jsonb value (palloc'd, NUL-terminated; *length set
// when not null). ERROR for numbers a double cannot hold exactly, as the
// text route.
char* canonical(Jsonb* value, std::size_t* length = nullptr);

// Calls visit(text, arg) with the JCS text of value from inside one guarded
// body, without copying the text into palloc'd memory (a bundle is read once:
// its copy was 14.6 MB of memcpy and page faults). visit runs inside that
// body: it may throw rulekeeper::Error, must not call guarded() or
// PostgreSQL, and must not keep the text.
void visit_canonical(Jsonb* value, void (*visit)(std::string_view text, void* arg), void* arg);

// Lowercase hex SHA-256 of the JCS form of an object (palloc'd, 64 chars).
// ERROR when the value is not an object.
char* content_sha256(Jsonb* body);

}  // namespace rulekeeper::pg::jsonb_jcs
