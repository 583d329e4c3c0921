// Every promotion recorded by the extension (issue 16 item 1; docs/failover.md
// "Promotions rulectl did not make"): when this node left recovery on a new
// timeline, whoever promoted it, a failover event is recorded exactly once —
// by the heartbeat worker as soon as recovery is finished, or by the first
// journaled write after the promotion if that comes first. Both go through
// rulekeeper._record_promotion() (sql/rulekeeper--0.1--0.2.sql), which takes
// the site lock and records only if no event names this timeline.
//
// rulectl's intent (rulekeeper.expect_promotion(), called on the standby
// before pg_promote()) waits in shared memory: a standby can write no table.
//
// Plain PostgreSQL C (no C++ objects): an ereport may unwind freely.
#pragma once

namespace rulekeeper::pg::promotion {

// From _PG_init while shared_preload_libraries is processed: the shared
// memory of the intent.
void request_shared_memory();

// Transaction callbacks (from _PG_init).
void register_callbacks();

// Before a journal entry of `kind` is appended: on the first one after a
// promotion, records the promotion first (its divergence point must not
// include this write). Entries of the event itself ('failover') skip it.
void before_journal_entry(const char* kind);

// In the heartbeat worker, inside no transaction: records the promotion if
// needed. True when done for good (recorded, present, or not applicable on a
// 0.2 catalog); false while the extension is missing or older than 0.2.
bool record_in_worker();

}  // namespace rulekeeper::pg::promotion
