// Saved SPI plans: prepared once per backend on first use, kept for its
// life. Every query in them names schemas and operators explicitly, so the
// caller's search_path at preparation time cannot change what they mean.
#pragma once

extern "C" {
#include "postgres.h"
#include "executor/spi.h"
}

namespace rulekeeper::pg {

// Returns *slot, preparing and keeping `sql` first if it is not yet. SPI
// must be connected.
inline SPIPlanPtr saved_plan(SPIPlanPtr* slot, const char* sql, int nargs, Oid* types) {
  if (*slot == nullptr) {
    SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
    if (plan == nullptr) elog(ERROR, "rulekeeper: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    SPI_keepplan(plan);
    *slot = plan;
  }
  return *slot;
}

}  // namespace rulekeeper::pg
