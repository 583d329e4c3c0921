// Per-transaction state for the journal and the checksum buckets (see
// txn_state.hpp). PostgreSQL calls are made from C-style frames or through
// pg_call; the delta maps are C++ and touched only inside guarded().
#include "txn_state.hpp"

#include "guard.hpp"
#include "spi_plans.hpp"
#include "rulekeeper/checksum.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "utils/syscache.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
}

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace rulekeeper::pg::txn {
namespace {

// The site lock is a heavyweight lock of tag type LOCKTAG_USERLOCK: the
// lock manager's deadlock detection, lock_timeout and pg_locks all work on
// it, and no SQL-callable function of PostgreSQL takes a lock of that type
// (the tag is reserved for the contrib/userlock module removed in 8.2;
// pg_advisory_lock() takes LOCKTAG_ADVISORY), so no other role — not even a
// superuser's session, short of calling rulekeeper's own functions — can
// take or hold it (docs/design/postgres-traps.md "Advisory locks are
// everyone's"). No table, no row, no WAL: a row lock would dirty a page and
// write WAL in every writing transaction. It shows in pg_locks as locktype
// userlock, classid 1381321797 ('RULE'), objid 1, objsubid 0.
constexpr uint32 kLockKeyRulekeeper = 0x52554c45;
constexpr uint32 kLockKeySite = 1;

// Held by this transaction until it ends: lock_site() takes it with the
// top-level transaction's resource owner, so no subtransaction abort
// releases it (docs/design/postgres-traps.md "Locks and subtransactions").
bool site_locked = false;

struct OriginCursor {
  bool valid = false;   // incarnation known for `site`
  char site[64] = {0};  // the site they were read for (a reload may change it)
  int32 incarnation = 0;
  Oid journal = InvalidOid;  // the rulekeeper.journal they were read for
  bool seq_valid = false;    // last_seq is the newest origin_seq of (site, incarnation)
  int64 last_seq = 0;
  char last_hash[65] = {0};  // its entry_hash (the chain's genesis when last_seq is 0)
};
OriginCursor cursor;  // plain data: reset at transaction end and on subabort

// The incarnation this backend last saw committed, with what it was read for:
// a new incarnation begins only when one of these changes, so the lookup is
// skipped while they stay the same. `table` catches DROP/CREATE EXTENSION.
struct KnownIncarnation {
  bool valid = false;
  uint64 sysid = 0;
  TimeLineID tli = 0;
  Oid database = InvalidOid;
  Oid table = InvalidOid;
  int32 incarnation = 0;
};
KnownIncarnation known;    // committed knowledge, reused across transactions
KnownIncarnation pending;  // learnt in this transaction; becomes `known` at commit

// One map of bucket -> net AdHash delta per subtransaction level that has
// made changes; the innermost is at the back.
struct LevelDeltas {
  SubTransactionId subxact;
  std::map<int, SetSum> buckets;  // ordered: applied in bucket order (no deadlocks)
};
std::vector<LevelDeltas>* deltas = nullptr;  // allocated once, lives for the backend

// The change_ids of remember_pending_change(): an open-addressing set of
// 16-byte keys (linear probing, tombstones on erase). A 100,000-version
// import puts 100,000 ids in and takes them out again in the same statement;
// std::unordered_set<std::string> spent a node allocation and a string hash
// on each, 6% of the import (bench/README.md "Releases and channels").
class ChangeIdSet {
public:
  void insert(const uint8* id) {
    if ((live_ + tombstones_ + 1) * 4 > slots_.size() * 3) rehash();
    Slot& s = slots_[find(id, true)];
    if (s.state == kFull) return;
    if (s.state == kTombstone) --tombstones_;
    std::memcpy(s.key, id, 16);
    s.state = kFull;
    ++live_;
  }
  bool erase(const uint8* id) {
    if (live_ == 0) return false;
    Slot& s = slots_[find(id, false)];
    if (s.state != kFull) return false;
    s.state = kTombstone;
    --live_;
    ++tombstones_;
    return true;
  }
  bool empty() const { return live_ == 0; }
  void clear() {
    // A large table is given back rather than kept for every later transaction.
    if (slots_.size() > 4096)
      std::vector<Slot>().swap(slots_);
    else
      std::fill(slots_.begin(), slots_.end(), Slot{});
    live_ = tombstones_ = 0;
  }

private:
  static constexpr uint8 kEmpty = 0, kFull = 1, kTombstone = 2;
  struct Slot {
    uint8 key[16];
    uint8 state;
  };
  static uint64 hash(const uint8* id) {
    // Any key may be looked up (a restored row carries any uuid): mix all of it.
    uint64 a, b;
    std::memcpy(&a, id, 8);
    std::memcpy(&b, id + 8, 8);
    uint64 x = a ^ (b * UINT64CONST(0x9E3779B97F4A7C15));
    x ^= x >> 31;
    x *= UINT64CONST(0xBF58476D1CE4E5B9);
    x ^= x >> 29;
    return x;
  }
  // The slot holding id, or else the empty slot that ends its probe (for
  // insert: the first tombstone on the way, if any). The table is never full.
  std::size_t find(const uint8* id, bool for_insert) const {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = hash(id) & mask;
    std::size_t reuse = SIZE_MAX;
    for (;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.state == kEmpty) return for_insert && reuse != SIZE_MAX ? reuse : i;
      if (s.state == kTombstone) {
        if (reuse == SIZE_MAX) reuse = i;
      } else if (std::memcmp(s.key, id, 16) == 0) {
        return i;
      }
    }
  }
  // Rebuilds with room for twice the live keys (at most half full after).
  void rehash() {
    std::size_t capacity = 64;
    while (capacity < (live_ + 1) * 4) capacity *= 2;
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    live_ = tombstones_ = 0;
    for (const Slot& s : old)
      if (s.state == kFull) insert(s.key);
  }
  std::vector<Slot> slots_;
  std::size_t live_ = 0, tombstones_ = 0;
};
ChangeIdSet* pending_changes = nullptr;

bool fail_next_merge = false;  // set by fail_next_subcommit_merge(); cleared at transaction end

SPIPlanPtr plan_latest_incarnation = nullptr;
SPIPlanPtr plan_insert_incarnation = nullptr;
SPIPlanPtr plan_upsert_bucket = nullptr;

void reset_cursor() { cursor = OriginCursor{}; }

void clear_deltas() {
  if (deltas) guarded([] { deltas->clear(); });
  if (pending_changes) guarded([] { pending_changes->clear(); });
}

int32 read_or_record_incarnation(const char* site, const char* sysid_text, TimeLineID tli);
void set_cursor(const char* site, int32 incarnation);

// Called with the lock held.
void load_origin(const char* site) {
  uint64 sysid = GetSystemIdentifier();
  TimeLineID tli = GetWALInsertionTimeLine();
  char sysid_text[32];
  snprintf(sysid_text, sizeof sysid_text, UINT64_FORMAT, sysid);

  Oid schema = get_namespace_oid("rulekeeper", false);
  Oid table = get_relname_relid("incarnation", schema);
  int32 incarnation = 0;
  if (known.valid && known.sysid == sysid && known.tli == tli && known.database == MyDatabaseId &&
      known.table == table) {
    incarnation = known.incarnation;
  } else {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
    incarnation = read_or_record_incarnation(site, sysid_text, tli);
    SPI_finish();
    pending = KnownIncarnation{true, sysid, tli, MyDatabaseId, table, incarnation};
  }
  set_cursor(site, incarnation);
}

// Reads the latest incarnation; records a new one (max + 1) when the latest
// was written under another (system identifier, timeline, database).
int32 read_or_record_incarnation(const char* site, const char* sysid_text, TimeLineID tli) {
  saved_plan(&plan_latest_incarnation,
             "SELECT incarnation, system_identifier, timeline, database_oid FROM rulekeeper.incarnation "
             "ORDER BY incarnation DESC LIMIT 1",
             0, nullptr);
  int rc = SPI_execute_snapshot(plan_latest_incarnation, nullptr, nullptr, GetLatestSnapshot(), InvalidSnapshot, true,
                                false, 1);
  if (rc != SPI_OK_SELECT) elog(ERROR, "rulekeeper: reading incarnation failed: %s", SPI_result_code_string(rc));

  int32 incarnation = 0;
  bool same = false;
  if (SPI_processed == 1) {
    bool isnull;
    HeapTuple tup = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    incarnation = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
    char* row_sysid = SPI_getvalue(tup, desc, 2);
    int64 row_tli = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
    Oid row_db = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
    same = row_sysid && strcmp(row_sysid, sysid_text) == 0 && row_tli == (int64)tli && row_db == MyDatabaseId;
  }
  if (!same) {
    Oid types[5] = {INT4OID, TEXTOID, TEXTOID, INT8OID, OIDOID};
    saved_plan(&plan_insert_incarnation,
               "INSERT INTO rulekeeper.incarnation (incarnation, site, system_identifier, timeline, database_oid) "
               "VALUES ($1, $2, $3, $4, $5)",
               5, types);
    incarnation += 1;
    Datum values[5] = {Int32GetDatum(incarnation), CStringGetTextDatum(site), CStringGetTextDatum(sysid_text),
                       Int64GetDatum((int64)tli), ObjectIdGetDatum(MyDatabaseId)};
    rc = SPI_execute_snapshot(plan_insert_incarnation, values, nullptr, GetLatestSnapshot(), InvalidSnapshot, false,
                              true, 0);
    if (rc != SPI_OK_INSERT) elog(ERROR, "rulekeeper: recording incarnation failed: %s", SPI_result_code_string(rc));
  }
  return incarnation;
}

// Records what the cursor now knows for this transaction.
void set_cursor(const char* site, int32 incarnation) {
  if (!cursor.valid || cursor.incarnation != incarnation || strcmp(cursor.site, site) != 0) cursor.seq_valid = false;
  cursor.incarnation = incarnation;
  strlcpy(cursor.site, site, sizeof cursor.site);
  cursor.valid = true;
}

void ensure_origin(const char* site) {
  lock_site();
  if (cursor.valid && strcmp(cursor.site, site) == 0) return;
  // What is read now holds until the journal's relcache entry is
  // invalidated (on_relcache_inval), e.g. by DROP and CREATE EXTENSION
  // inside this transaction, which make a new, empty journal.
  cursor.journal = get_relname_relid("journal", get_namespace_oid("rulekeeper", false));
  if (RecoveryInProgress())
    ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
                    errmsg("this node (site %s) is a standby in recovery and takes no writes", site)));
  load_origin(site);
}

// Applies the pending bucket deltas: called at pre-commit, inside the
// transaction, so a failure here aborts it (nothing half-written).
void flush_deltas() {
  if (deltas == nullptr) return;
  // Copy the merged deltas out of C++ containers into palloc'd plain arrays.
  int count = 0;
  int* bucket_ids = nullptr;
  bytea** sums = nullptr;
  guarded([&] {
    if (deltas->empty()) return;
    std::map<int, SetSum> merged;
    for (const LevelDeltas& level : *deltas)
      for (const auto& [bucket, sum] : level.buckets) merged[bucket].add(sum);
    deltas->clear();
    int n = 0;
    for (const auto& entry : merged)
      if (!entry.second.is_zero()) ++n;
    if (n == 0) return;
    int* ids = palloc_items<int>(n);
    bytea** values = palloc_items<bytea*>(n);
    pg_call([&]() noexcept {
      for (int i = 0; i < n; ++i) values[i] = static_cast<bytea*>(palloc(VARHDRSZ + 32));
    });
    int i = 0;
    for (const auto& [bucket, sum] : merged) {
      if (sum.is_zero()) continue;
      ids[i] = bucket;
      SET_VARSIZE(values[i], VARHDRSZ + 32);
      std::memcpy(VARDATA(values[i]), sum.bytes().data(), 32);
      ++i;
    }
    count = n;
    bucket_ids = ids;
    sums = values;
  });
  if (count == 0) return;

  // Commit runs as the session user, who (rightly) cannot write derived
  // tables: apply the deltas as the owner of the bucket table, in a
  // restricted security context. An error aborts the transaction, which
  // also restores the user id.
  Oid bucket_table = get_relname_relid("checksum_bucket", get_namespace_oid("rulekeeper", false));
  if (!OidIsValid(bucket_table)) elog(ERROR, "rulekeeper: rulekeeper.checksum_bucket does not exist");
  HeapTuple class_tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(bucket_table));
  if (!HeapTupleIsValid(class_tuple)) elog(ERROR, "rulekeeper: cache lookup failed for relation %u", bucket_table);
  Oid owner = ((Form_pg_class)GETSTRUCT(class_tuple))->relowner;
  ReleaseSysCache(class_tuple);
  Oid saved_user;
  int saved_context;
  GetUserIdAndSecContext(&saved_user, &saved_context);
  SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);

  PushActiveSnapshot(GetTransactionSnapshot());
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
  Oid types[2] = {INT4OID, BYTEAOID};
  saved_plan(&plan_upsert_bucket,
             "INSERT INTO rulekeeper.checksum_bucket AS b (bucket, sum) VALUES ($1, $2) "
             "ON CONFLICT (bucket) DO UPDATE SET sum = rulekeeper._adhash_add(b.sum, excluded.sum)",
             2, types);
  for (int i = 0; i < count; ++i) {
    Datum values[2] = {Int32GetDatum(bucket_ids[i]), PointerGetDatum(sums[i])};
    int rc = SPI_execute_plan(plan_upsert_bucket, values, nullptr, false, 0);
    if (rc != SPI_OK_INSERT) elog(ERROR, "rulekeeper: updating checksum bucket failed: %s", SPI_result_code_string(rc));
  }
  SPI_finish();
  PopActiveSnapshot();
  SetUserIdAndSecContext(saved_user, saved_context);
}

// A prepared transaction keeps its locks after its session ends, until
// someone runs COMMIT/ROLLBACK PREPARED: one holding the site lock would
// stop every writer of the site, and its bucket deltas are applied at
// pre-commit, which a prepared transaction never reaches. So a transaction
// that did any rulekeeper work is not prepared (docs/design/postgres-traps.md
// "Prepared transactions keep their locks"). The error aborts it.
void refuse_prepare() {
  const bool has_deltas = deltas != nullptr && !deltas->empty();
  const bool has_pending = pending_changes != nullptr && !pending_changes->empty();
  if (!site_locked && !has_deltas && !has_pending) return;
  ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                  errmsg("a transaction that made rulekeeper changes cannot be prepared (PREPARE TRANSACTION)"),
                  errdetail("It holds rulekeeper's site lock, which a prepared transaction would keep after its "
                            "session ends and so stop every write at this site until COMMIT PREPARED or ROLLBACK "
                            "PREPARED."),
                  errhint("Run rulekeeper's functions in ordinary transactions; the transaction was rolled back.")));
}

void on_xact(XactEvent event, void*) {
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) reset_after_abort();
  switch (event) {
    case XACT_EVENT_PRE_COMMIT: flush_deltas(); break;
    case XACT_EVENT_PRE_PREPARE: refuse_prepare(); break;
    case XACT_EVENT_COMMIT:
      if (pending.valid) known = pending;
      pending = KnownIncarnation{};
      site_locked = false;
      reset_cursor();
      clear_deltas();
      fail_next_merge = false;
      break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PREPARE:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PARALLEL_ABORT:
      pending = KnownIncarnation{};
      site_locked = false;
      reset_cursor();
      clear_deltas();
      fail_next_merge = false;
      break;
    default: break;
  }
}

// Any invalidation of the journal's relcache entry (or of all entries) makes
// the cursor read again: a dropped and re-created journal is another table.
// A spurious invalidation (another backend's VACUUM) only costs one re-read
// under the lock, which is as correct as the first.
void on_relcache_inval(Datum, Oid relid) {
  if (!cursor.valid) return;
  if (relid == InvalidOid || relid == cursor.journal) {
    cursor.valid = false;
    cursor.seq_valid = false;
  }
}

// The boundary self-test (fail_next_subcommit_merge) makes the next merge
// below fail, to show that such a failure is a clean error.
void throw_if_failure_injected() {
  if (!fail_next_merge) return;
  fail_next_merge = false;
  throw Error(ErrorKind::internal,
              "rulekeeper selftest: injected failure while merging a subtransaction's checksum deltas");
}

// Folds a committing subtransaction's bucket deltas into its parent's.
// Runs at SUBXACT_EVENT_PRE_COMMIT_SUB, while the subtransaction can still
// fail cleanly: an error here aborts it (and ABORT_SUB drops its level),
// whereas at COMMIT_SUB it is already marked committed and an error would
// leave PostgreSQL's transaction state half done. Between PRE_COMMIT_SUB and
// COMMIT_SUB nothing of the subtransaction runs any more (deferred triggers
// fire at top-level commit), so no delta can arrive after the merge.
//
// Exception-safe: everything that allocates happens before anything is
// changed for good, so a failure leaves the child's level intact for
// ABORT_SUB to drop and the parent's level as it was (at most with zero
// entries, which add nothing).
void merge_into_parent(SubTransactionId my_subid, SubTransactionId parent_subid) {
  if (deltas == nullptr) return;
  guarded([&] {
    if (deltas->empty() || deltas->back().subxact != my_subid) return;  // made no changes
    std::size_t depth = deltas->size();
    if (depth < 2 || (*deltas)[depth - 2].subxact != parent_subid) {
      // The parent has no level yet: the child's becomes the parent's.
      throw_if_failure_injected();
      deltas->back().subxact = parent_subid;
      return;
    }
    LevelDeltas& child = (*deltas)[depth - 1];
    LevelDeltas& parent = (*deltas)[depth - 2];
    for (const auto& entry : child.buckets) parent.buckets.try_emplace(entry.first);  // may throw
    throw_if_failure_injected();
    for (const auto& [bucket, sum] : child.buckets) parent.buckets.find(bucket)->second.add(sum);  // noexcept
    deltas->pop_back();
  });
}

void on_subxact(SubXactEvent event, SubTransactionId my_subid, SubTransactionId parent_subid, void*) {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    reset_after_abort();
    // The subtransaction's journal rows and incarnation row are gone (the
    // site lock is not: it belongs to the top-level transaction): re-read
    // everything from the index. An incarnation learnt meanwhile may have
    // been recorded by the aborted subtransaction: forget it rather than
    // carry it to commit.
    reset_cursor();
    pending = KnownIncarnation{};
    if (deltas)
      guarded([&] {
        while (!deltas->empty() && deltas->back().subxact >= my_subid) deltas->pop_back();
      });
  } else if (event == SUBXACT_EVENT_PRE_COMMIT_SUB) {
    merge_into_parent(my_subid, parent_subid);
  }
}

}  // namespace

void register_callbacks() {
  RegisterXactCallback(on_xact, nullptr);
  RegisterSubXactCallback(on_subxact, nullptr);
  CacheRegisterRelcacheCallback(on_relcache_inval, (Datum)0);
}

// Taken for the top-level transaction even when asked for inside a
// subtransaction: a subtransaction's resource owner releases its locks when
// it aborts (advisory and row locks alike), and the outer transaction may
// have read under the lock, or go on writing after ROLLBACK TO SAVEPOINT
// (docs/design/postgres-traps.md "Locks and subtransactions").
void lock_site() {
  if (site_locked) return;
  LOCKTAG tag;
  tag.locktag_field1 = MyDatabaseId;
  tag.locktag_field2 = kLockKeyRulekeeper;
  tag.locktag_field3 = kLockKeySite;
  tag.locktag_field4 = 0;
  tag.locktag_type = LOCKTAG_USERLOCK;
  tag.locktag_lockmethodid = USER_LOCKMETHOD;
  ResourceOwner saved = CurrentResourceOwner;
  PG_TRY();
  {
    CurrentResourceOwner = TopTransactionResourceOwner;
    (void)LockAcquire(&tag, ExclusiveLock, false, false);
  }
  PG_FINALLY();
  { CurrentResourceOwner = saved; }
  PG_END_TRY();
  site_locked = true;
}

OriginSlot current_origin(const char* site) {
  ensure_origin(site);
  return OriginSlot{site, cursor.incarnation};
}

int64 next_origin_seq(const char* site, int32 incarnation, int64 (*read_max)(const char*, int32, char*)) {
  ensure_origin(site);
  if (cursor.incarnation != incarnation || strcmp(cursor.site, site) != 0)
    elog(ERROR, "rulekeeper: origin_seq asked for (%s, %d) while the origin is (%s, %d)", site, incarnation,
         cursor.site, cursor.incarnation);
  if (!cursor.seq_valid) {
    cursor.last_seq = read_max(site, incarnation, cursor.last_hash);
    cursor.seq_valid = true;
  }
  return cursor.last_seq + 1;
}

const char* origin_prev_hash() {
  if (!cursor.seq_valid) elog(ERROR, "rulekeeper: the chain's previous hash asked for before next_origin_seq");
  return cursor.last_hash;
}

void origin_seq_used(int64 seq, const char* entry_hash) {
  cursor.last_seq = seq;
  strlcpy(cursor.last_hash, entry_hash, sizeof cursor.last_hash);
}

int32 current_incarnation(const char* site) {
  ensure_origin(site);
  return cursor.incarnation;
}

void add_bucket_delta(int bucket, const uint8* digest32, bool subtract) {
  lock_site();
  SubTransactionId subxact = GetCurrentSubTransactionId();
  guarded([&] {
    if (deltas == nullptr) deltas = new std::vector<LevelDeltas>();
    if (deltas->empty() || deltas->back().subxact != subxact) deltas->push_back(LevelDeltas{subxact, {}});
    Digest d;
    std::memcpy(d.data(), digest32, 32);
    SetSum& sum = deltas->back().buckets[bucket];
    if (subtract)
      sum.subtract(d);
    else
      sum.add(d);
  });
}

void add_pending_deltas(uint8 (*sums)[32]) {
  if (deltas == nullptr) return;
  guarded([&] {
    for (const LevelDeltas& level : *deltas)
      for (const auto& [bucket, delta] : level.buckets) {
        Digest current;
        std::memcpy(current.data(), sums[bucket], 32);
        SetSum total(current);
        total.add(delta);
        std::memcpy(sums[bucket], total.bytes().data(), 32);
      }
  });
}

void fail_next_subcommit_merge() { fail_next_merge = true; }

void remember_pending_change(const uint8* uuid16) {
  guarded([&] {
    if (pending_changes == nullptr) pending_changes = new ChangeIdSet();
    pending_changes->insert(uuid16);
  });
}

bool take_pending_change(const uint8* uuid16) {
  if (pending_changes == nullptr) return false;
  return guarded([&] { return pending_changes->erase(uuid16); });
}

}  // namespace rulekeeper::pg::txn
