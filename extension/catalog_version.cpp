// See catalog_version.hpp. Reads pg_extension through its name index, as
// PostgreSQL's own extension.c does (its lookup of extversion is static).
#include "catalog_version.hpp"

extern "C" {
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
}

#include <cstdlib>

namespace rulekeeper::pg {

const char* catalog_version() {
  Relation rel = table_open(ExtensionRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum("rulekeeper"));
  SysScanDesc scan = systable_beginscan(rel, ExtensionNameIndexId, true, nullptr, 1, &key);
  const char* version = nullptr;
  HeapTuple tuple = systable_getnext(scan);
  if (HeapTupleIsValid(tuple)) {
    bool isnull = true;
    Datum d = heap_getattr(tuple, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);
    if (!isnull) version = text_to_cstring(DatumGetTextPP(d));
  }
  systable_endscan(scan);
  table_close(rel, AccessShareLock);
  return version;
}

namespace {

// -1, 0, 1 as a is older than, the same as, newer than b ("0.10" > "0.9").
int compare_versions(const char* a, const char* b) {
  while (*a || *b) {
    char* a_end = nullptr;
    char* b_end = nullptr;
    long x = *a ? std::strtol(a, &a_end, 10) : 0;
    long y = *b ? std::strtol(b, &b_end, 10) : 0;
    if (x != y) return x < y ? -1 : 1;
    a = *a ? a_end : a;
    b = *b ? b_end : b;
    if (*a == '.') ++a;
    if (*b == '.') ++b;
    if ((*a && (*a < '0' || *a > '9')) || (*b && (*b < '0' || *b > '9'))) break;  // not numeric: stop
  }
  return 0;
}

}  // namespace

bool catalog_at_least(const char* version) {
  const char* installed = catalog_version();
  return installed != nullptr && compare_versions(installed, version) >= 0;
}

}  // namespace rulekeeper::pg
