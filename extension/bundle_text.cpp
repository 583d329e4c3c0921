// Release bundles as they arrive at the server:
//
//  - _check_json_text(text): the strict JSON reader of the core applied to a
//    bundle as the client sent it, before PostgreSQL's jsonb input sees it —
//    jsonb silently keeps the last of duplicate keys and would let a bundle
//    say two things at once. import_release_text() calls it, then
//    import_release(jsonb).
//  - _check_body_text(text): the same for a rule body typed as text
//    (create_version / hotfix overloads taking text), plus the core's JCS
//    canonicalization, so that an inexact number is refused quoting the
//    author's literal ("1e400"), not jsonb's rewrite of it.
//  - _validate_bundle(jsonb, environment, site): the core's validate_bundle
//    (core/bundle.cpp, the fuzzed one) on the bundle's JCS text, so that the
//    server checks a bundle with exactly the code a client and the fuzzers
//    run, instead of re-stating the checks in PL/pgSQL. import_release calls
//    it first; what needs the database (rulesets, existing labels, drift)
//    stays there. It goes through validate_canonical_bundle: the text is JCS
//    already, so a valid bundle is checked without a tree or a second
//    canonicalization (a third of the validation's time), and anything else
//    by validate_bundle itself, with its messages. It returns
//    {bundle_sha256, signature}: the signature block is taken from the
//    bundle already in memory here, so that the import does not decompress
//    a large bundle once more to verify it (docs/keys.md).
#include "guard.hpp"
#include "jsonb_canonical.hpp"
#include "pg_sha256.hpp"
#include "rulekeeper/bundle.hpp"
#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/json.hpp"

extern "C" {
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

#include <algorithm>
#include <cstring>

namespace {

// What rk_validate_bundle hands to the validation (plain data).
struct ValidateCall {
  const char* environment;  // null: no target
  const char* site;
  char checksum[65];
};

// Runs inside visit_canonical's guarded body.
void validate_jcs(std::string_view json, void* arg) {
  ValidateCall& call = *static_cast<ValidateCall*>(arg);
  rulekeeper::BundleTarget target;
  if (call.environment != nullptr) {
    target.environment = call.environment;
    target.site = call.site;
  }
  const rulekeeper::BundleSummary summary = rulekeeper::validate_canonical_bundle(json, rulekeeper::pg::server_sha256(),
                                                                                  call.environment ? &target : nullptr);
  std::memcpy(call.checksum, summary.bundle_sha256.data(), std::min<std::size_t>(64, summary.bundle_sha256.size()));
}

}  // namespace

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

PG_FUNCTION_INFO_V1(rk_check_body_text);
PGDLLEXPORT Datum rk_check_body_text(PG_FUNCTION_ARGS) {
  text* t = PG_GETARG_TEXT_PP(0);
  const char* data = VARDATA_ANY(t);
  size_t len = VARSIZE_ANY_EXHDR(t);
  rulekeeper::pg::guarded([&] {
    rulekeeper::JsonLimits limits;
    limits.max_depth = rulekeeper::kMaxJsonDepth;
    (void)rulekeeper::canonicalize(rulekeeper::parse_json(std::string_view(data, len), limits));
  });
  PG_RETURN_VOID();
}

// Returns {"bundle_sha256": the verified checksum, "signature": the bundle's
// signature member or null}. Not STRICT: a SQL NULL is refused with the
// message a JSON null gets.
PG_FUNCTION_INFO_V1(rk_validate_bundle);
PGDLLEXPORT Datum rk_validate_bundle(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("a bundle is a JSON object, not null")));
  Jsonb* bundle = PG_GETARG_JSONB_P(0);
  ValidateCall call = {PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1)),
                       PG_ARGISNULL(2) ? "(unset)" : text_to_cstring(PG_GETARG_TEXT_PP(2)),
                       {0}};
  // The JCS text straight from jsonb's binary form (plain PostgreSQL: an
  // inexact number or nesting past 256 levels ERRORs there, as in
  // canonical_json(), while no C++ object is alive), validated where it was
  // written, without a copy.
  rulekeeper::pg::jsonb_jcs::visit_canonical(bundle, validate_jcs, &call);
  // Plain PostgreSQL again (no C++ object alive): the bundle is an object
  // (validated), its signature member whatever it is; import checks it.
  JsonbValue* signature = getKeyJsonValueFromContainer(&bundle->root, "signature", 9, nullptr);
  StringInfoData out;
  initStringInfo(&out);
  appendStringInfo(&out, "{\"bundle_sha256\": \"%s\", \"signature\": ", call.checksum);
  if (signature == nullptr) {
    appendStringInfoString(&out, "null");
  } else {
    Jsonb* block = JsonbValueToJsonb(signature);
    appendStringInfoString(&out, JsonbToCString(nullptr, &block->root, VARSIZE(block)));
  }
  appendStringInfoChar(&out, '}');
  PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}

}  // extern "C"
