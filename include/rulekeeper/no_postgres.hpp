// Included by every core header: the pure core must never see PostgreSQL or
// libpq headers (STYLE.md). postgres.h defines PG_VERSION_NUM via pg_config.h;
// libpq-fe.h defines LIBPQ_FE_H. If either is already in, the build fails here.
#pragma once
#if defined(PG_VERSION_NUM) || defined(LIBPQ_FE_H) || defined(POSTGRES_H)
#error "rulekeeper core headers must not be mixed with PostgreSQL or libpq headers in core/"
#endif
