// _check_json_text(text): the strict JSON reader of the core applied to a
// bundle as the client sent it, before PostgreSQL's jsonb input sees it —
// jsonb silently keeps the last of duplicate keys and would let a bundle
// say two things at once. import_release_text() calls it, then
// import_release(jsonb).
#include "guard.hpp"
#include "rulekeeper/json.hpp"

extern "C" {
#include "fmgr.h"
#include "utils/builtins.h"
}

extern "C" {

PG_FUNCTION_INFO_V1(rk_check_json_text);
PGDLLEXPORT Datum rk_check_json_text(PG_FUNCTION_ARGS) {
    text* t = PG_GETARG_TEXT_PP(0);
    const char* data = VARDATA_ANY(t);
    size_t len = VARSIZE_ANY_EXHDR(t);
    rulekeeper::pg::guarded([&] {
        rulekeeper::JsonLimits limits;
        limits.max_depth = 256;
        (void)rulekeeper::parse_json(std::string_view(data, len), limits);
    });
    PG_RETURN_VOID();
}

}  // extern "C"
