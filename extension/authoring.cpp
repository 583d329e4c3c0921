// create_version(rule_key, body): the authoring hot path, in C with saved
// plan (one statement) rather than PL/pgSQL, because it runs once
// per version and bench/README.md holds it to 1.5x the bare writes.
// The row's label, checksum, qualification and journal entry come from the
// rule_version triggers, exactly as for any other insert.
#include "settings.hpp"
#include "spi_plans.hpp"
#include "txn_state.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

namespace {

SPIPlanPtr plan_insert = nullptr;

const char* jsonb_type_name(Jsonb* body) {
  if (JB_ROOT_IS_SCALAR(body)) {
    JsonbValue v;
    if (JsonbExtractScalar(&body->root, &v)) {
      switch (v.type) {
        case jbvNull: return "null";
        case jbvString: return "string";
        case jbvNumeric: return "number";
        case jbvBool: return "boolean";
        default: break;
      }
    }
    return "scalar";
  }
  return JB_ROOT_IS_ARRAY(body) ? "array" : "object";
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(rk_create_version);
PGDLLEXPORT Datum rk_create_version(PG_FUNCTION_ARGS) {
  rulekeeper::pg::require_environment("e1", "create_version");
  rulekeeper::pg::require_writable_node("create_version");
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("the body of a rule version must be a JSON object, not %s",
                           PG_ARGISNULL(1) ? "null" : "a null rule_key")));
  Datum rule_key = PG_GETARG_DATUM(0);
  Jsonb* body = PG_GETARG_JSONB_P(1);
  if (JB_ROOT_IS_SCALAR(body) || !JB_ROOT_IS_OBJECT(body))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("the body of a rule version must be a JSON object, not %s", jsonb_type_name(body))));

  // Under the site lock, so two authors never compute the same number.
  rulekeeper::pg::txn::lock_site();
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
  // One statement finds the next number and inserts (one executor run,
  // not two); no row means no such rule. ORDER BY ... LIMIT 1 walks the
  // primary key backwards: one probe, however many versions the rule has.
  Oid insert_types[2] = {TEXTOID, JSONBOID};
  rulekeeper::pg::saved_plan(
      &plan_insert,
      "INSERT INTO rulekeeper.rule_version (rule_key, version, hotfix, body, origin) "
      "SELECT $1, COALESCE((SELECT v.version FROM rulekeeper.rule_version v "
      "WHERE v.rule_key OPERATOR(pg_catalog.=) $1 ORDER BY v.version DESC, v.hotfix DESC LIMIT 1), 0) "
      "OPERATOR(pg_catalog.+) 1, 0, $2, 'authored' "
      "WHERE EXISTS (SELECT 1 FROM rulekeeper.rule r WHERE r.rule_key OPERATOR(pg_catalog.=) $1) "
      "RETURNING version",
      2, insert_types);
  Datum insert_args[2] = {rule_key, PointerGetDatum(body)};
  int rc = SPI_execute_plan(plan_insert, insert_args, nullptr, false, 0);
  if (rc != SPI_OK_INSERT_RETURNING)
    elog(ERROR, "rulekeeper: inserting the version failed: %s", SPI_result_code_string(rc));
  if (SPI_processed == 0)
    ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("rule \"%s\" does not exist", TextDatumGetCString(rule_key)),
                    errhint("Create it first with rulekeeper.create_rule(rule_key, ruleset).")));
  bool version_null;
  int32 next_version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &version_null));
  SPI_finish();

  char label[16];
  snprintf(label, sizeof label, "%d", next_version);
  PG_RETURN_TEXT_P(cstring_to_text(label));
}

}  // extern "C"
