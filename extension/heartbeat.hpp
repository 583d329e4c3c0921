// Registration of the heartbeat background worker (see heartbeat.cpp).
#pragma once

namespace rulekeeper::pg {

// From _PG_init while shared_preload_libraries is being processed.
void register_heartbeat_worker();

}  // namespace rulekeeper::pg
