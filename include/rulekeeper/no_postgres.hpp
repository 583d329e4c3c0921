// Included by every core header. The pure core never sees PostgreSQL or libpq:
// core/ is compiled without their include paths (so `#include "postgres.h"`
// there fails to compile), and with RULEKEEPER_CORE_BUILD defined this check
// also fails the build if such a header slipped in through another route.
// The extension includes both on purpose, without RULEKEEPER_CORE_BUILD.
#pragma once
#if defined(RULEKEEPER_CORE_BUILD) && (defined(PG_VERSION_NUM) || defined(LIBPQ_FE_H) || defined(POSTGRES_H))
#error "rulekeeper core must not include PostgreSQL or libpq headers"
#endif
