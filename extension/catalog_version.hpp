// Which version of the extension's SQL objects this database holds.
//
// PostgreSQL loads the newest rulekeeper.so as soon as it is installed, while
// the database may still hold the 0.1 catalog until the DBA runs
// `ALTER EXTENSION rulekeeper UPDATE` (and a standby holds whatever its
// primary has). C code that reads or writes an object added after 0.1 asks
// here first and leaves that work undone on an older catalog
// (docs/design/upgrades.md "One library, two catalogs").
//
// Plain PostgreSQL C: call it outside guarded bodies or through pg_call.
#pragma once

namespace rulekeeper::pg {

// The installed extversion of rulekeeper in the current database, palloc'd in
// the current memory context; nullptr when the extension is not installed.
// Needs a transaction (it reads pg_extension).
const char* catalog_version();

// True when the installed catalog is at least `version` ("0.2"): versions
// compare as dot-separated numbers. False when not installed.
bool catalog_at_least(const char* version);

}  // namespace rulekeeper::pg
