// The module's entry: magic block and _PG_init (settings, transaction
// callbacks, the heartbeat worker when preloaded).
#include "heartbeat.hpp"
#include "journal.hpp"
#include "promotion.hpp"
#include "settings.hpp"
#include "txn_audit.hpp"
#include "txn_state.hpp"

extern "C" {
#include "fmgr.h"
#include "miscadmin.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
void _PG_init(void) {
  rulekeeper::pg::define_settings();
  rulekeeper::pg::txn::register_callbacks();
  rulekeeper::pg::txn_audit::register_callbacks();
  rulekeeper::pg::journal::register_callbacks();
  rulekeeper::pg::promotion::register_callbacks();
  // The worker needs the library preloaded (it is the postmaster that
  // starts it); loaded later, the extension works without heartbeats.
  if (process_shared_preload_libraries_in_progress) {
    rulekeeper::pg::register_heartbeat_worker();
    rulekeeper::pg::promotion::request_shared_memory();  // rulectl's intent (promotion.hpp)
  }
}
}
