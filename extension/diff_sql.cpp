// SQL access to the core's JSON diff and hotfix classification:
//   _json_diff(from jsonb, to jsonb) -> (path, op, old_value jsonb, new_value jsonb)
//   _classify(hotfix_diff jsonb, planned jsonb) -> 'included' | 'overrides' | 'unknown'
//   _paths_outside(paths text[], allowed text[]) -> text[]  (paths no allowed prefix covers)
// Diffs are stored as a JSON array of {path, op, old_value, new_value} (the
// hotfix table's diff column), so the same shape goes in and out.
#include "content.hpp"
#include "guard.hpp"
#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/json_diff.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}

#include <cstring>
#include <string>
#include <vector>

namespace {

// A diff entry as plain palloc'd C strings (null when absent).
struct CEntry {
  char* path;
  const char* op;
  char* old_value;
  char* new_value;
};

char* pstr(const std::string& s) { return rulekeeper::pg::palloc_copy(s.data(), s.size()); }

// Runs the core diff and copies the result out of C++ containers.
CEntry* diff_entries(const char* from_json, const char* to_json, int* count) {
  return rulekeeper::pg::guarded([&]() -> CEntry* {
    std::vector<rulekeeper::DiffEntry> d = rulekeeper::json_diff_text(from_json, to_json);
    std::size_t n = d.size();
    CEntry* out = rulekeeper::pg::palloc0_items<CEntry>(n + 1);
    for (std::size_t i = 0; i < n; ++i) {
      out[i].path = pstr(d[i].path);
      out[i].op = rulekeeper::to_string(d[i].op).data();
      out[i].old_value = d[i].old_value ? pstr(*d[i].old_value) : nullptr;
      out[i].new_value = d[i].new_value ? pstr(*d[i].new_value) : nullptr;
    }
    *count = static_cast<int>(n);
    return out;
  });
}

Datum jsonb_from_text(const char* text) { return DirectFunctionCall1(jsonb_in, CStringGetDatum(text)); }

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(rk_json_diff);
PGDLLEXPORT Datum rk_json_diff(PG_FUNCTION_ARGS) {
  char* from = rulekeeper::pg::content::jsonb_text(PG_GETARG_JSONB_P(0));
  char* to = rulekeeper::pg::content::jsonb_text(PG_GETARG_JSONB_P(1));
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  int count = 0;
  CEntry* entries = diff_entries(from, to, &count);
  for (int i = 0; i < count; ++i) {
    Datum values[4] = {CStringGetTextDatum(entries[i].path), CStringGetTextDatum(entries[i].op),
                       entries[i].old_value ? jsonb_from_text(entries[i].old_value) : (Datum)0,
                       entries[i].new_value ? jsonb_from_text(entries[i].new_value) : (Datum)0};
    bool nulls[4] = {false, false, entries[i].old_value == nullptr, entries[i].new_value == nullptr};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum)0;
}

// _classify(hotfix_diff jsonb, planned jsonb): the diff as stored (array of
// {path, op, old_value, new_value}).
PG_FUNCTION_INFO_V1(rk_classify);
PGDLLEXPORT Datum rk_classify(PG_FUNCTION_ARGS) {
  char* diff_json = rulekeeper::pg::content::jsonb_text(PG_GETARG_JSONB_P(0));
  char* planned_json = rulekeeper::pg::content::jsonb_text(PG_GETARG_JSONB_P(1));
  const char* result = rulekeeper::pg::guarded([&]() -> const char* {
    rulekeeper::JsonValue diff = rulekeeper::parse_json(diff_json);
    rulekeeper::JsonValue planned = rulekeeper::parse_json(planned_json);
    if (diff.type != rulekeeper::JsonValue::Type::array)
      throw rulekeeper::Error(rulekeeper::ErrorKind::invalid_input, "a stored diff is a JSON array");
    std::vector<rulekeeper::DiffEntry> entries;
    for (const rulekeeper::JsonValue& item : diff.items) {
      rulekeeper::DiffEntry e{"", rulekeeper::DiffOp::replace, std::nullopt, std::nullopt};
      bool have_path = false;
      for (const auto& [key, value] : item.members) {
        if (key == "path" && value.type == rulekeeper::JsonValue::Type::string) {
          e.path = value.text;
          have_path = true;
        } else if (key == "op" && value.type == rulekeeper::JsonValue::Type::string) {
          if (value.text == "add")
            e.op = rulekeeper::DiffOp::add;
          else if (value.text == "remove")
            e.op = rulekeeper::DiffOp::remove;
          else if (value.text == "replace")
            e.op = rulekeeper::DiffOp::replace;
          else
            throw rulekeeper::Error(rulekeeper::ErrorKind::invalid_input, "unknown diff op " + value.text);
        } else if (key == "old_value") {
          e.old_value = rulekeeper::canonicalize(value);
        } else if (key == "new_value") {
          e.new_value = rulekeeper::canonicalize(value);
        }
      }
      if (!have_path) throw rulekeeper::Error(rulekeeper::ErrorKind::invalid_input, "a diff entry has no path");
      entries.push_back(std::move(e));
    }
    return rulekeeper::to_string(rulekeeper::classify(entries, planned)).data();
  });
  PG_RETURN_TEXT_P(cstring_to_text(result));
}

// _paths_outside(paths text[], allowed text[]) -> the paths no allowed path covers.
PG_FUNCTION_INFO_V1(rk_paths_outside);
PGDLLEXPORT Datum rk_paths_outside(PG_FUNCTION_ARGS) {
  ArrayType* paths = PG_GETARG_ARRAYTYPE_P(0);
  ArrayType* allowed = PG_GETARG_ARRAYTYPE_P(1);
  Datum *p_items, *a_items;
  bool *p_nulls, *a_nulls;
  int p_n, a_n;
  deconstruct_array(paths, TEXTOID, -1, false, TYPALIGN_INT, &p_items, &p_nulls, &p_n);
  deconstruct_array(allowed, TEXTOID, -1, false, TYPALIGN_INT, &a_items, &a_nulls, &a_n);
  char** p_text = static_cast<char**>(palloc(sizeof(char*) * (p_n + 1)));
  char** a_text = static_cast<char**>(palloc(sizeof(char*) * (a_n + 1)));
  for (int i = 0; i < p_n; ++i) p_text[i] = p_nulls[i] ? nullptr : TextDatumGetCString(p_items[i]);
  for (int i = 0; i < a_n; ++i) a_text[i] = a_nulls[i] ? nullptr : TextDatumGetCString(a_items[i]);
  bool* outside = static_cast<bool*>(palloc0(sizeof(bool) * (p_n + 1)));
  rulekeeper::pg::guarded([&] {
    for (int i = 0; i < p_n; ++i) {
      if (p_text[i] == nullptr) continue;
      bool covered = false;
      for (int j = 0; j < a_n && !covered; ++j)
        covered = a_text[j] != nullptr && rulekeeper::path_within(p_text[i], a_text[j]);
      outside[i] = !covered;
    }
  });
  Datum* result = static_cast<Datum*>(palloc(sizeof(Datum) * (p_n + 1)));
  int n = 0;
  for (int i = 0; i < p_n; ++i)
    if (outside[i]) result[n++] = p_items[i];
  PG_RETURN_ARRAYTYPE_P(construct_array(result, n, TEXTOID, -1, false, TYPALIGN_INT));
}

}  // extern "C"
