// The core's lifecycle tables as SQL: the set-returning functions behind the
// views rulekeeper.qualification, rulekeeper.qualification_transition and
// rulekeeper.channel_admission, and the transition check the rule_version
// UPDATE trigger calls. One source of truth: include/rulekeeper/lifecycle.hpp.
#include "guard.hpp"
#include "settings.hpp"
#include "rulekeeper/lifecycle.hpp"

extern "C" {
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

#include <string>

namespace {

Datum text_datum(std::string_view s) { return PointerGetDatum(cstring_to_text_with_len(s.data(), (int)s.size())); }

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(rk_qualifications);
PGDLLEXPORT Datum rk_qualifications(PG_FUNCTION_ARGS) {
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  const auto* table = rulekeeper::pg::guarded([] { return &rulekeeper::qualifications(); });
  for (const auto& q : *table) {
    Datum values[5] = {text_datum(q.name), text_datum(rulekeeper::to_string(q.environment)), BoolGetDatum(q.initial),
                       BoolGetDatum(q.final), text_datum(q.meaning)};
    bool nulls[5] = {false, false, false, false, false};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum)0;
}

PG_FUNCTION_INFO_V1(rk_transitions);
PGDLLEXPORT Datum rk_transitions(PG_FUNCTION_ARGS) {
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  const auto* table = rulekeeper::pg::guarded([] { return &rulekeeper::transitions(); });
  for (const auto& t : *table) {
    bool nulls[4] = {false, false, false, !t.requires_active_in.has_value()};
    Datum values[4] = {text_datum(rulekeeper::to_string(t.environment)), text_datum(t.from), text_datum(t.to),
                       t.requires_active_in ? text_datum(*t.requires_active_in) : (Datum)0};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum)0;
}

PG_FUNCTION_INFO_V1(rk_channel_admissions);
PGDLLEXPORT Datum rk_channel_admissions(PG_FUNCTION_ARGS) {
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  const auto* table = rulekeeper::pg::guarded([] { return &rulekeeper::channel_admissions(); });
  for (const auto& a : *table) {
    Datum values[3] = {text_datum(a.channel), text_datum(a.qualification), BoolGetDatum(a.needs_acknowledge)};
    bool nulls[3] = {false, false, false};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum)0;
}

// _check_transition(rule_key, label, from, to) -> text: ERROR unless the table
// allows from -> to in this node's environment; returns the channel the
// version must be active in for the transition, or NULL.
PG_FUNCTION_INFO_V1(rk_check_transition);
PGDLLEXPORT Datum rk_check_transition(PG_FUNCTION_ARGS) {
  char* rule_key = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* label = text_to_cstring(PG_GETARG_TEXT_PP(1));
  char* from = text_to_cstring(PG_GETARG_TEXT_PP(2));
  char* to = text_to_cstring(PG_GETARG_TEXT_PP(3));
  const char* env = rulekeeper::pg::environment_setting();
  rulekeeper::pg::require_site("a qualification change");

  // Plain C results out of the guarded body: a message to raise, or the
  // required channel.
  char* refusal = nullptr;
  char* wrong_env = nullptr;
  const char* requires_channel = nullptr;
  rulekeeper::pg::guarded([&] {
    const rulekeeper::Transition* t = rulekeeper::find_transition(from, to);
    if (t == nullptr) {
      refusal = rulekeeper::pg::copy_message(rulekeeper::describe_refused_transition(from, to).c_str());
      return;
    }
    if (rulekeeper::to_string(t->environment) != env) {
      wrong_env = rulekeeper::pg::copy_message(std::string(rulekeeper::to_string(t->environment)).c_str());
      return;
    }
    if (t->requires_active_in) requires_channel = t->requires_active_in->data();
  });
  if (refusal)
    ereport(ERROR,
            (errcode(ERRCODE_CHECK_VIOLATION), errmsg("version %s of rule \"%s\": %s", label, rule_key, refusal)));
  if (wrong_env)
    ereport(ERROR,
            (errcode(ERRCODE_CHECK_VIOLATION),
             errmsg("version %s of rule \"%s\": %s -> %s happens in environment %s; this is site %s in "
                    "environment %s",
                    label, rule_key, from, to, wrong_env, rulekeeper::pg::site_setting(), env[0] ? env : "(unset)")));
  if (requires_channel == nullptr) PG_RETURN_NULL();
  PG_RETURN_TEXT_P(cstring_to_text(requires_channel));
}

}  // extern "C"
