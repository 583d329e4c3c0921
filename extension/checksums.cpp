// SQL functions over the checksums: snapshot_checksum(scope),
// checksum_buckets(scope), verify_checksums(), and the small helpers the
// install script uses (_adhash_add, canonical_json, content_sha256).
//
// Scope 'all' reads the 4096 incrementally kept bucket sums (no scan of the
// versions); 'prod' and 'sl' sum the versions activated in that channel (at
// most one per rule), computed on the fly.
#include "content.hpp"
#include "jsonb_canonical.hpp"
#include "txn_state.hpp"
#include "guard.hpp"
#include "rulekeeper/checksum.hpp"

extern "C" {
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
}

#include <cstring>

namespace {

constexpr int kBuckets = rulekeeper::kBucketCount;

// 256-bit sums as plain bytes, so that no C++ object lives in frames that
// call SPI. Arithmetic runs in guarded core calls.
struct Sum {
  uint8 bytes[32];
};

// SetSum's arithmetic is noexcept: no guard needed around it.
void sum_add(Sum* into, const uint8* digest, bool subtract = false) {
  rulekeeper::Digest a, b;
  std::memcpy(a.data(), into->bytes, 32);
  std::memcpy(b.data(), digest, 32);
  rulekeeper::SetSum s(a);
  if (subtract)
    s.subtract(b);
  else
    s.add(b);
  std::memcpy(into->bytes, s.bytes().data(), 32);
}

char* sum_hex(const Sum& s) {
  static const char* hex = "0123456789abcdef";
  char* out = static_cast<char*>(palloc(65));
  for (int i = 0; i < 32; ++i) {
    out[2 * i] = hex[s.bytes[i] >> 4];
    out[2 * i + 1] = hex[s.bytes[i] & 15];
  }
  out[64] = '\0';
  return out;
}

bool sum_is_zero(const Sum& s) {
  for (uint8 b : s.bytes)
    if (b != 0) return false;
  return true;
}

enum class Scope { all, prod, sl };

Scope parse_scope(text* arg) {
  char* s = text_to_cstring(arg);
  if (strcmp(s, "all") == 0) return Scope::all;
  if (strcmp(s, "prod") == 0) return Scope::prod;
  if (strcmp(s, "sl") == 0) return Scope::sl;
  ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown checksum scope \"%s\"", s),
                  errhint("Scopes are all, prod and sl.")));
  pg_unreachable();
}

// Fills sums[4096] for the scope (SPI connected by the caller).
void bucket_sums(Scope scope, Sum* sums) {
  memset(sums, 0, sizeof(Sum) * kBuckets);
  if (scope == Scope::all) {
    int rc = SPI_execute("SELECT bucket, sum FROM rulekeeper.checksum_bucket", true, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "rulekeeper: reading checksum buckets failed");
    for (uint64 i = 0; i < SPI_processed; ++i) {
      bool isnull;
      HeapTuple t = SPI_tuptable->vals[i];
      int bucket = DatumGetInt32(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull));
      bytea* sum = DatumGetByteaPP(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
      if (bucket < 0 || bucket >= kBuckets || VARSIZE_ANY_EXHDR(sum) != 32)
        elog(ERROR, "rulekeeper: checksum_bucket row %d is malformed", bucket);
      memcpy(sums[bucket].bytes, VARDATA_ANY(sum), 32);
    }
    // This transaction's own changes are applied at commit; count them now.
    static_assert(sizeof(Sum) == 32, "Sum is 32 plain bytes");
    rulekeeper::pg::txn::add_pending_deltas(reinterpret_cast<uint8(*)[32]>(sums));
    return;
  }
  Oid types[1] = {TEXTOID};
  Datum values[1] = {CStringGetTextDatum(scope == Scope::prod ? "prod" : "sl")};
  int rc = SPI_execute_with_args(
      "SELECT v.bucket, v.rule_key, v.label, v.content_sha256 FROM rulekeeper.activation a "
      "JOIN rulekeeper.rule_version v ON v.rule_key OPERATOR(pg_catalog.=) a.rule_key "
      "AND v.label OPERATOR(pg_catalog.=) a.label WHERE a.channel OPERATOR(pg_catalog.=) $1",
      1, types, values, nullptr, true, 0);
  if (rc != SPI_OK_SELECT) elog(ERROR, "rulekeeper: reading activations failed");
  for (uint64 i = 0; i < SPI_processed; ++i) {
    bool isnull;
    HeapTuple t = SPI_tuptable->vals[i];
    int bucket = DatumGetInt32(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull));
    uint8 digest[32];
    rulekeeper::pg::content::entry_digest(SPI_getvalue(t, SPI_tuptable->tupdesc, 2),
                                          SPI_getvalue(t, SPI_tuptable->tupdesc, 3),
                                          SPI_getvalue(t, SPI_tuptable->tupdesc, 4), digest);
    sum_add(&sums[bucket], digest);
  }
}

// bucket_of(rule_key) remembered per rule key during one verify_checksums()
// call: a rule has many versions, and the bucket is a SHA-256 of the key.
// Direct-mapped; a slot holds the key it was computed for, so a collision
// only costs a recomputation.
struct BucketCache {
  static constexpr uint32 kSlots = 16384;
  struct Slot {
    char* key;
    int bucket;
  };
  Slot* slots;
};

int cached_bucket_of(BucketCache* cache, const char* rule_key) {
  size_t len = strlen(rule_key);
  uint32 slot =
      hash_bytes(reinterpret_cast<const unsigned char*>(rule_key), static_cast<int>(len)) & (BucketCache::kSlots - 1);
  BucketCache::Slot& s = cache->slots[slot];
  if (s.key != nullptr && strcmp(s.key, rule_key) == 0) return s.bucket;
  int bucket = rulekeeper::pg::content::bucket_of(rule_key);
  if (s.key != nullptr) pfree(s.key);
  s.key = pstrdup(rule_key);
  s.bucket = bucket;
  return bucket;
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(rk_snapshot_checksum);
PGDLLEXPORT Datum rk_snapshot_checksum(PG_FUNCTION_ARGS) {
  Scope scope = parse_scope(PG_GETARG_TEXT_PP(0));
  Sum* sums = static_cast<Sum*>(palloc(sizeof(Sum) * kBuckets));
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
  bucket_sums(scope, sums);
  SPI_finish();
  Sum total;
  memset(&total, 0, sizeof total);
  for (int b = 0; b < kBuckets; ++b)
    if (!sum_is_zero(sums[b])) sum_add(&total, sums[b].bytes);
  PG_RETURN_TEXT_P(cstring_to_text(sum_hex(total)));
}

PG_FUNCTION_INFO_V1(rk_checksum_buckets);
PGDLLEXPORT Datum rk_checksum_buckets(PG_FUNCTION_ARGS) {
  Scope scope = parse_scope(PG_GETARG_TEXT_PP(0));
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  Sum* sums = static_cast<Sum*>(palloc(sizeof(Sum) * kBuckets));
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
  bucket_sums(scope, sums);
  SPI_finish();
  for (int b = 0; b < kBuckets; ++b) {
    if (sum_is_zero(sums[b])) continue;  // empty buckets are implied
    Datum values[2] = {Int32GetDatum(b), CStringGetTextDatum(sum_hex(sums[b]))};
    bool nulls[2] = {false, false};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum)0;
}

// Recomputes every version's content_sha256 from its body and every bucket
// sum from the versions; returns one row per disagreement (none = intact).
// A direct heap scan under the statement's snapshot: no SPI copies of a
// million rows, no output functions for the text columns.
PG_FUNCTION_INFO_V1(rk_verify_checksums);
PGDLLEXPORT Datum rk_verify_checksums(PG_FUNCTION_ARGS) {
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  MemoryContext outer = CurrentMemoryContext;
  Sum* recomputed = static_cast<Sum*>(palloc0(sizeof(Sum) * kBuckets));
  Sum* stored = static_cast<Sum*>(palloc(sizeof(Sum) * kBuckets));

  Oid relid = get_relname_relid("rule_version", get_namespace_oid("rulekeeper", false));
  Relation rel = table_open(relid, AccessShareLock);
  TupleDesc desc = RelationGetDescr(rel);
  int att_rule_key = SPI_fnumber(desc, "rule_key"), att_label = SPI_fnumber(desc, "label"),
      att_body = SPI_fnumber(desc, "body"), att_content = SPI_fnumber(desc, "content_sha256"),
      att_bucket = SPI_fnumber(desc, "bucket");
  if (att_rule_key <= 0 || att_label <= 0 || att_body <= 0 || att_content <= 0 || att_bucket <= 0)
    elog(ERROR, "rulekeeper: rule_version lacks a column verify_checksums reads");
  TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, nullptr);
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  BucketCache cache{static_cast<BucketCache::Slot*>(palloc0(sizeof(BucketCache::Slot) * BucketCache::kSlots))};
  MemoryContext row_context =
      AllocSetContextCreate(CurrentMemoryContext, "rulekeeper verify rows", ALLOCSET_DEFAULT_SIZES);
  while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
    CHECK_FOR_INTERRUPTS();
    MemoryContextSwitchTo(row_context);
    bool isnull;
    char* rule_key = TextDatumGetCString(slot_getattr(slot, att_rule_key, &isnull));
    char* label = TextDatumGetCString(slot_getattr(slot, att_label, &isnull));
    Jsonb* body = DatumGetJsonbP(slot_getattr(slot, att_body, &isnull));
    char* stored_hex = TextDatumGetCString(slot_getattr(slot, att_content, &isnull));
    int bucket = DatumGetInt32(slot_getattr(slot, att_bucket, &isnull));
    char* actual = rulekeeper::pg::jsonb_jcs::content_sha256(body);
    MemoryContextSwitchTo(outer);
    int true_bucket = cached_bucket_of(&cache, rule_key);
    MemoryContextSwitchTo(row_context);
    uint8 digest[32];
    // The bucket sums were built from the stored checksums: recompute
    // them from the same, so one tampered body is reported once.
    rulekeeper::pg::content::entry_digest(rule_key, label, stored_hex, digest);
    sum_add(&recomputed[true_bucket], digest);
    MemoryContextSwitchTo(outer);
    if (strcmp(actual, stored_hex) != 0 || true_bucket != bucket) {
      Datum values[5] = {CStringGetTextDatum(rule_key), CStringGetTextDatum(label), CStringGetTextDatum(stored_hex),
                         CStringGetTextDatum(actual),
                         CStringGetTextDatum(true_bucket != bucket ? "bucket column" : "body")};
      bool nulls[5] = {false, false, false, false, false};
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    MemoryContextReset(row_context);
  }
  ExecDropSingleTupleTableSlot(slot);
  table_endscan(scan);
  table_close(rel, AccessShareLock);

  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
  bucket_sums(Scope::all, stored);
  SPI_finish();
  for (int b = 0; b < kBuckets; ++b) {
    if (memcmp(stored[b].bytes, recomputed[b].bytes, 32) == 0) continue;
    char what[32];
    snprintf(what, sizeof what, "bucket %d", b);
    Datum values[5] = {(Datum)0, (Datum)0, CStringGetTextDatum(sum_hex(stored[b])),
                       CStringGetTextDatum(sum_hex(recomputed[b])), CStringGetTextDatum(what)};
    bool nulls[5] = {true, true, false, false, false};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum)0;
}

PG_FUNCTION_INFO_V1(rk_adhash_add);
PGDLLEXPORT Datum rk_adhash_add(PG_FUNCTION_ARGS) {
  bytea* a = PG_GETARG_BYTEA_PP(0);
  bytea* b = PG_GETARG_BYTEA_PP(1);
  if (VARSIZE_ANY_EXHDR(a) != 32 || VARSIZE_ANY_EXHDR(b) != 32)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("AdHash sums are 32 bytes")));
  Sum s;
  memcpy(s.bytes, VARDATA_ANY(a), 32);
  sum_add(&s, reinterpret_cast<const uint8*>(VARDATA_ANY(b)));
  bytea* out = static_cast<bytea*>(palloc(VARHDRSZ + 32));
  SET_VARSIZE(out, VARHDRSZ + 32);
  memcpy(VARDATA(out), s.bytes, 32);
  PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(rk_canonical_json);
PGDLLEXPORT Datum rk_canonical_json(PG_FUNCTION_ARGS) {
  Jsonb* body = PG_GETARG_JSONB_P(0);
  std::size_t length = 0;
  char* text = rulekeeper::pg::jsonb_jcs::canonical(body, &length);
  PG_RETURN_TEXT_P(cstring_to_text_with_len(text, static_cast<int>(length)));
}

// The same through the text route (print, parse, canonicalize): what
// canonical_json() gave before it read jsonb directly, kept so that
// tests/regress/sql/canonical.sql can compare the two on every document it holds.
PG_FUNCTION_INFO_V1(rk_canonical_json_via_text);
PGDLLEXPORT Datum rk_canonical_json_via_text(PG_FUNCTION_ARGS) {
  Jsonb* body = PG_GETARG_JSONB_P(0);
  PG_RETURN_TEXT_P(cstring_to_text(rulekeeper::pg::content::canonical(rulekeeper::pg::content::jsonb_text(body))));
}

PG_FUNCTION_INFO_V1(rk_content_sha256);
PGDLLEXPORT Datum rk_content_sha256(PG_FUNCTION_ARGS) {
  Jsonb* body = PG_GETARG_JSONB_P(0);
  PG_RETURN_TEXT_P(cstring_to_text(rulekeeper::pg::jsonb_jcs::content_sha256(body)));
}

PG_FUNCTION_INFO_V1(rk_entry_digest);
PGDLLEXPORT Datum rk_entry_digest(PG_FUNCTION_ARGS) {
  char* rule_key = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* label = text_to_cstring(PG_GETARG_TEXT_PP(1));
  char* content = text_to_cstring(PG_GETARG_TEXT_PP(2));
  Sum s;
  rulekeeper::pg::content::entry_digest(rule_key, label, content, s.bytes);
  PG_RETURN_TEXT_P(cstring_to_text(sum_hex(s)));
}

PG_FUNCTION_INFO_V1(rk_bucket_of);
PGDLLEXPORT Datum rk_bucket_of(PG_FUNCTION_ARGS) {
  PG_RETURN_INT32(rulekeeper::pg::content::bucket_of(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

}  // extern "C"
