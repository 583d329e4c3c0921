// The journal hash chain inside the server (the canonical form is the core's,
// include/rulekeeper/journal_chain.hpp; docs/design/contract.md "Journal hash
// chain"). Called from plain C frames: each function runs the core inside
// guarded() and returns palloc'd text.
#pragma once

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h"
}

namespace rulekeeper::pg::chain {

// recorded_at in the chain's fixed text form (palloc'd): RFC 3339 UTC with
// six fractional digits; "infinity" / "-infinity" for the infinite values.
char* recorded_at_text(TimestampTz ts);

// entry_hash of one entry chained to prev (64 lowercase hex digits,
// palloc'd). payload_json is JSON text (an object), canonicalized here; null
// means '{}'. rule_key and label may be null. ERROR (clean, through guarded)
// for a malformed prev or payload.
char* entry_hash(const char* prev, const char* change_id, const char* origin_site, int32 origin_incarnation,
                 int64 origin_seq, const char* kind, const char* rule_key, const char* label, const char* payload_json,
                 const char* actor, const char* recorded_at);

// The same with the payload either as JSON text (payload_is_jcs false) or
// already in JCS form (true: verification, from jsonb).
char* hash_of(const char* prev, const char* change_id, const char* origin_site, int32 origin_incarnation,
              int64 origin_seq, const char* kind, const char* rule_key, const char* label, const char* payload,
              bool payload_is_jcs, const char* actor, const char* recorded_at);

}  // namespace rulekeeper::pg::chain
