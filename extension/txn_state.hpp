// What one transaction accumulates for the journal and the checksums, kept in
// backend memory and written once, so that per-row work stays O(1) however
// large the transaction (docs/design/postgres-traps.md, "Large transactions"):
//
//  * the site lock: a heavyweight lock no other role can take (txn_state.cpp
//    says which), taken once per transaction for the top-level transaction,
//    before the first journal entry, and held until the transaction ends;
//    it makes origin_seq gapless and commit-ordered. A transaction holding
//    it (or any other state below) refuses PREPARE TRANSACTION;
//  * the origin: this node's incarnation, remembered across transactions
//    while (system identifier, timeline, database) stay the same;
//  * the origin_seq cursor: max(origin_seq) of this origin read once per
//    transaction under the lock (and again after a subtransaction aborts,
//    since its entries are gone), then counted up in memory — so a
//    transaction of 100,000 entries makes one index probe, not 100,000 that
//    the planner may turn into scans of what the transaction just wrote;
//  * bucket deltas: the AdHash change of each touched checksum bucket, one map
//    per open subtransaction (an aborted subtransaction drops its own, a
//    committing one is folded into its parent's at SUBXACT_EVENT_PRE_COMMIT_SUB,
//    where an error still aborts it cleanly), applied to
//    rulekeeper.checksum_bucket once at pre-commit, in bucket order.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace rulekeeper::pg::txn {

void register_callbacks();

// Takes the site lock (once per transaction; kept until the top-level
// transaction ends, whatever subtransaction asked for it).
void lock_site();

// The origin of the next journal entry: this site and its current
// incarnation (a new one is recorded when system identifier, timeline or
// database changed). Takes the site lock, under which the journal insert
// reads max(origin_seq) + 1: gapless and in commit order.
struct OriginSlot {
  const char* site;
  int32 incarnation;
};
OriginSlot current_origin(const char* site);

// The origin_seq the next journal entry of (site, incarnation) takes: max + 1,
// the max read by read_max once per transaction (under the lock, which is
// held until the transaction ends, so no one else appends for this site
// meanwhile) and again after a subtransaction abort. Call origin_seq_used
// once the entry is inserted. read_max also fills the entry_hash of that
// newest entry (65 bytes; the chain's genesis when there is none), which the
// cursor keeps beside the seq: the hash chain (docs/design/contract.md
// "Journal hash chain") costs no extra read per entry.
int64 next_origin_seq(const char* site, int32 incarnation, int64 (*read_max)(const char*, int32, char*));
// The entry_hash of the newest entry of the origin (valid after next_origin_seq).
const char* origin_prev_hash();
void origin_seq_used(int64 seq, const char* entry_hash);

// The current incarnation number (records a new one if needed). Lock taken.
int32 current_incarnation(const char* site);

// Adds (or, with subtract, removes) an entry digest to a bucket's pending delta.
void add_bucket_delta(int bucket, const uint8* digest32, bool subtract);

// Adds this transaction's not-yet-applied bucket deltas into sums[4096][32]
// (big-endian 256-bit), so that checksums read inside the transaction that
// made changes (import_release's post_checksum) include them.
void add_pending_deltas(uint8 (*sums)[32]);

// Rows whose change_id the BEFORE trigger generated and whose journal entry
// the AFTER trigger must append (a row that never lands, e.g. under
// ON CONFLICT DO NOTHING, fires no AFTER trigger and so is never journaled).
void remember_pending_change(const uint8* uuid16);
bool take_pending_change(const uint8* uuid16);  // true (and forgotten) if it was pending

// For the boundary self-test only (_boundary_selftest('fail_next_subcommit')):
// the next subtransaction commit that folds checksum deltas into its parent
// fails with a C++ exception inside the merge. Forgotten at transaction end.
void fail_next_subcommit_merge();

}  // namespace rulekeeper::pg::txn
