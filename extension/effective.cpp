// effective_version(rule_key, channel): the pods' hot path. C with a saved
// plan: no PL/pgSQL, no SET clause (SECURITY INVOKER, so it runs with the
// caller's search_path — hence every name and operator in the query is
// schema-qualified and a caller's objects cannot change its answer).
//
// _require_channel(channel): the core's require_channel, so that
// effective_rules('green') and every other SQL function taking a channel
// raise an error naming the channels instead of answering "nothing is active
// there" (a pod would run without rules). effective_version checks the same
// way before its lookup.
extern "C" {
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
}

#include "guard.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "spi_plans.hpp"

namespace {
SPIPlanPtr plan_effective = nullptr;

// Plain C data in, nothing alive outside the guarded body.
void require_channel(text* channel) {
  const char* data = VARDATA_ANY(channel);
  const std::size_t len = VARSIZE_ANY_EXHDR(channel);
  rulekeeper::pg::guarded([&] { rulekeeper::require_channel(std::string_view(data, len)); });
}
}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(rk_effective_version);
PGDLLEXPORT Datum rk_effective_version(PG_FUNCTION_ARGS) {
  require_channel(PG_GETARG_TEXT_PP(1));
  MemoryContext caller = CurrentMemoryContext;
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
  Oid types[2] = {TEXTOID, TEXTOID};
  rulekeeper::pg::saved_plan(&plan_effective,
                             "SELECT a.label FROM rulekeeper.activation a "
                             "WHERE a.channel OPERATOR(pg_catalog.=) $2 AND a.rule_key OPERATOR(pg_catalog.=) $1",
                             2, types);
  Datum args[2] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)};
  int rc = SPI_execute_plan(plan_effective, args, nullptr, true, 1);
  if (rc != SPI_OK_SELECT) elog(ERROR, "rulekeeper: effective_version lookup failed: %s", SPI_result_code_string(rc));
  if (SPI_processed == 0) {
    SPI_finish();
    PG_RETURN_NULL();
  }
  bool isnull;
  Datum label = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  // Copy the result out of SPI's memory before SPI_finish frees it.
  MemoryContext spi = MemoryContextSwitchTo(caller);
  text* copy = DatumGetTextPCopy(label);
  MemoryContextSwitchTo(spi);
  SPI_finish();
  PG_RETURN_TEXT_P(copy);
}

// Returns true for a channel, raises naming the channels otherwise.
PG_FUNCTION_INFO_V1(rk_require_channel);
PGDLLEXPORT Datum rk_require_channel(PG_FUNCTION_ARGS) {
  require_channel(PG_GETARG_TEXT_PP(0));
  PG_RETURN_BOOL(true);
}

}  // extern "C"
