// Audit fields handed from functions to triggers (txn_audit.hpp). Plain C
// data in TopTransactionContext: nothing here can throw, and everything goes
// with the transaction's memory when it ends.
#include "txn_audit.hpp"

extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
}

#include <cstring>
#include <utility>

namespace rulekeeper::pg::txn_audit {
namespace {

constexpr const char* kFields[] = {"action", "acknowledged", "reason"};
constexpr int kNFields = sizeof kFields / sizeof kFields[0];

// One value of a field, set at one subtransaction level; `below` is the
// value it hides (an outer level's), restored if this level aborts.
struct Level {
  SubTransactionId subxact;
  char* value;  // nullptr: unset at this level
  Level* below;
};
Level* stacks[kNFields];  // innermost level first; all nullptr outside a transaction

int field_index(text* name) {
  char* s = text_to_cstring(name);
  for (int i = 0; i < kNFields; ++i)
    if (strcmp(s, kFields[i]) == 0) return i;
  ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown audit field \"%s\"", s),
                  errhint("The fields are action, acknowledged and reason.")));
  return -1;  // not reached
}

void forget_all() {
  // The memory belongs to TopTransactionContext, which goes with the transaction.
  for (Level*& s : stacks) s = nullptr;
}

void pop(int f) {
  Level* top = stacks[f];
  stacks[f] = top->below;
  if (top->value) pfree(top->value);
  pfree(top);
}

void on_xact(XactEvent event, void*) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PREPARE:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PARALLEL_ABORT: forget_all(); break;
    default: break;
  }
}

// Abort: undo every value set in the aborting subtransaction or below it
// (subtransaction ids grow, and a committed child's values were relabelled
// to its parent). Commit: the child's values become the parent's.
void on_subxact(SubXactEvent event, SubTransactionId my_subid, SubTransactionId parent_subid, void*) {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    for (int f = 0; f < kNFields; ++f)
      while (stacks[f] && stacks[f]->subxact >= my_subid) pop(f);
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    for (int f = 0; f < kNFields; ++f) {
      Level* top = stacks[f];
      if (top == nullptr || top->subxact != my_subid) continue;
      if (top->below && top->below->subxact == parent_subid) {
        std::swap(top->value, top->below->value);  // the parent keeps the child's value
        pop(f);                                    // and the child's level (now the old value) goes
      } else {
        top->subxact = parent_subid;
      }
    }
  }
}

}  // namespace

void register_callbacks() {
  RegisterXactCallback(on_xact, nullptr);
  RegisterSubXactCallback(on_subxact, nullptr);
}

}  // namespace rulekeeper::pg::txn_audit

extern "C" {

using rulekeeper::pg::txn_audit::Level;

// _audit_set(field, value): '' unsets the field.
PG_FUNCTION_INFO_V1(rk_audit_set);
PGDLLEXPORT Datum rk_audit_set(PG_FUNCTION_ARGS) {
  using namespace rulekeeper::pg::txn_audit;
  int f = field_index(PG_GETARG_TEXT_PP(0));
  char* value = text_to_cstring(PG_GETARG_TEXT_PP(1));
  char* copy = value[0] == '\0' ? nullptr : MemoryContextStrdup(TopTransactionContext, value);
  SubTransactionId subxact = GetCurrentSubTransactionId();
  if (stacks[f] && stacks[f]->subxact == subxact) {
    if (stacks[f]->value) pfree(stacks[f]->value);
    stacks[f]->value = copy;
  } else if (copy != nullptr || stacks[f] != nullptr) {
    Level* level = static_cast<Level*>(MemoryContextAlloc(TopTransactionContext, sizeof(Level)));
    *level = Level{subxact, copy, stacks[f]};
    stacks[f] = level;
  }
  PG_RETURN_VOID();
}

// _audit_get(field): the value, NULL when unset.
PG_FUNCTION_INFO_V1(rk_audit_get);
PGDLLEXPORT Datum rk_audit_get(PG_FUNCTION_ARGS) {
  using namespace rulekeeper::pg::txn_audit;
  int f = field_index(PG_GETARG_TEXT_PP(0));
  if (stacks[f] == nullptr || stacks[f]->value == nullptr) PG_RETURN_NULL();
  PG_RETURN_TEXT_P(cstring_to_text(stacks[f]->value));
}

}  // extern "C"
