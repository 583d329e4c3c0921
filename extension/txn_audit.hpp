// The audit fields of the transaction's history rows: what a function knows
// and its trigger cannot (the action that moved an activation, the
// acknowledgement given, the reason of a qualification change), handed
// from the SECURITY DEFINER function to the trigger in backend memory.
//
// Never in a setting: any session can SET a custom setting, so a value kept
// there could be forged by the caller (docs/design/postgres-traps.md
// "Custom settings are writable by everyone"). The SQL entry points
// _audit_set/_audit_get are executable by the extension's owner alone (the
// functions and triggers run as it); values follow subtransactions as
// SET LOCAL does (an aborted subtransaction's values are undone) and are
// forgotten when the transaction ends.
#pragma once

namespace rulekeeper::pg::txn_audit {

void register_callbacks();

}  // namespace rulekeeper::pg::txn_audit
