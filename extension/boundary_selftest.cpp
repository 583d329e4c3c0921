// _boundary_selftest(mode): proves the guard's promises from SQL
// (tests/regress/sql/boundary.sql). A C++ object with a destructor is alive while
//  'pg'     : a PostgreSQL ereport(ERROR) is raised inside pg_call,
//  'cpp'    : a C++ exception is thrown,
//  'nested' : guarded() is called from inside a guarded body;
// all must arrive as clean SQL errors (the PostgreSQL one with its own
// SQLSTATE, the nested call refused before its body runs) *and* the object's
// destructor must have run, which 'count' reports. Two more:
//  'escape'              : breaks the rules on purpose: a guarded body (with
//                          no C++ object alive) raises ereport directly, not
//                          through pg_call, so guarded() never sees it leave;
//                          the next guarded() after the (sub)transaction
//                          abort must still work, not be taken for nested;
//  'fail_next_subcommit' : the next subtransaction commit that folds checksum
//                          deltas into its parent fails inside the merge
//                          (txn_state.cpp), which must be a clean error that
//                          aborts that subtransaction only.
// Admin only; harmless (each mode affects the caller's own transaction).
#include "guard.hpp"
#include "txn_state.hpp"

extern "C" {
#include "fmgr.h"
#include "utils/builtins.h"
}

#include <cstring>
#include <stdexcept>
#include <string>

namespace {

int64 destructors_run = 0;

struct CountsItsDestruction {
  std::string payload = std::string(64, 'x');  // a real heap allocation to free
  ~CountsItsDestruction() { ++destructors_run; }
};

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(rk_boundary_selftest);
PGDLLEXPORT Datum rk_boundary_selftest(PG_FUNCTION_ARGS) {
  char* mode = text_to_cstring(PG_GETARG_TEXT_PP(0));
  if (strcmp(mode, "count") == 0) PG_RETURN_INT64(destructors_run);
  if (strcmp(mode, "fail_next_subcommit") == 0) {
    rulekeeper::pg::txn::fail_next_subcommit_merge();
    PG_RETURN_INT64(destructors_run);
  }
  if (strcmp(mode, "escape") == 0) {
    rulekeeper::pg::guarded(
        [] { ereport(ERROR, (errcode(ERRCODE_DIVISION_BY_ZERO), errmsg("a PostgreSQL error that skipped pg_call"))); });
    PG_RETURN_INT64(destructors_run);
  }
  bool pg_error = strcmp(mode, "pg") == 0;
  bool nested = strcmp(mode, "nested") == 0;
  if (!pg_error && !nested && strcmp(mode, "cpp") != 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("mode must be pg, cpp, nested, escape, fail_next_subcommit or count")));
  rulekeeper::pg::guarded([&] {
    CountsItsDestruction alive;
    if (pg_error)
      rulekeeper::pg::pg_call([]() noexcept {
        ereport(ERROR, (errcode(ERRCODE_DIVISION_BY_ZERO), errmsg("a PostgreSQL error under C++ frames")));
      });
    else if (nested)
      rulekeeper::pg::guarded([] { throw std::runtime_error("the nested guarded body ran"); });
    else
      throw std::runtime_error("a C++ exception under PostgreSQL frames");
  });
  PG_RETURN_INT64(destructors_run);
}

}  // extern "C"
