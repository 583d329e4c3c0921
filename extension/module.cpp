// The module's entry: magic block and _PG_init (settings, transaction
// callbacks). Background workers register here too once they exist.
#include "settings.hpp"
#include "txn_state.hpp"

extern "C" {
#include "fmgr.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
void _PG_init(void) {
    rulekeeper::pg::define_settings();
    rulekeeper::pg::txn::register_callbacks();
}
}
