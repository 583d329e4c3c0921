// _boundary_selftest(mode): proves the guard's two promises from SQL
// (tests/regress/sql/boundary.sql). A C++ object with a destructor is alive while
//  'pg'  : a PostgreSQL ereport(ERROR) is raised inside pg_call, and
//  'cpp' : a C++ exception is thrown;
// both must arrive as clean SQL errors (the PostgreSQL one with its own
// SQLSTATE) *and* the object's destructor must have run, which 'count'
// reports. Admin only; harmless.
#include "guard.hpp"

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
    bool pg_error = strcmp(mode, "pg") == 0;
    if (!pg_error && strcmp(mode, "cpp") != 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("mode must be pg, cpp or count")));
    rulekeeper::pg::guarded([&] {
        CountsItsDestruction alive;
        if (pg_error)
            rulekeeper::pg::pg_call([] {
                ereport(ERROR, (errcode(ERRCODE_DIVISION_BY_ZERO), errmsg("a PostgreSQL error under C++ frames")));
            });
        else
            throw std::runtime_error("a C++ exception under PostgreSQL frames");
    });
    PG_RETURN_INT64(destructors_run);
}

}  // extern "C"
