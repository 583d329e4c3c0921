// The one mechanism that keeps C++ and PostgreSQL error handling apart
// (STYLE.md, "The boundary between C++ and PostgreSQL").
//
// Two rules, both enforced by the shape of the code rather than by care:
//
//  1. C++ objects with destructors live only inside `guarded(...)` bodies.
//     `guarded` catches every exception, copies its message into palloc'd
//     memory, *leaves the catch block* (so the exception object and every C++
//     frame are gone), and only then raises ereport(ERROR).
//
//  2. Inside a guarded body, every call into PostgreSQL that can ereport goes
//     through `pg_call(...)`, which runs it under PG_TRY, turns a PostgreSQL
//     error into a C++ `PgError` (unwinding C++ frames properly), and lets
//     `guarded` re-throw the original ErrorData (SQLSTATE, detail and hint
//     intact) once the C++ frames are gone. The body given to pg_call must
//     not itself throw C++ exceptions: it is plain PostgreSQL C.
//
// Entry points (fmgr functions, triggers, the background worker's steps) are
// thin C-style functions: they unpack Datums with PostgreSQL calls while no
// C++ object is alive, call `guarded` for the logic, and build the result
// from plain C data after it returns.
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

#include "rulekeeper/error.hpp"

#include <exception>
#include <new>
#include <type_traits>
#include <utility>

namespace rulekeeper::pg {

// A PostgreSQL error caught by pg_call, carried through C++ frames.
class PgError : public std::exception {
public:
    explicit PgError(ErrorData* edata) : edata_(edata) {}
    const char* what() const noexcept override { return edata_ && edata_->message ? edata_->message : "PostgreSQL error"; }
    ErrorData* edata() const noexcept { return edata_; }

private:
    ErrorData* edata_;  // palloc'd by CopyErrorData in the caller's memory context
};

// Runs `fn` (plain PostgreSQL C calls, no C++ throw) so that an ereport
// inside it becomes a PgError instead of a longjmp across C++ frames.
template <typename Fn>
void pg_call(Fn&& fn) {
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData* volatile edata = nullptr;
    PG_TRY();
    {
        fn();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        edata = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    if (edata != nullptr) throw PgError(edata);
}

// What guarded() knows about a failure once every C++ frame is gone.
struct Failure {
    ErrorData* pg = nullptr;  // a PostgreSQL error to re-throw as it was
    int sqlstate = 0;
    char* message = nullptr;  // palloc'd
    char* hint = nullptr;     // palloc'd or null
};

int sqlstate_for(ErrorKind kind) noexcept;
// Copies text into palloc'd memory without ever throwing or ereporting
// (falls back to a static string if memory is exhausted).
char* copy_message(const char* text) noexcept;
// Raises the failure; never returns.
[[noreturn]] void raise(const Failure& failure);

// Runs the C++ body; any exception becomes a clean SQL error raised only
// after the exception object and the body's frames are destroyed.
template <typename Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
    using Result = decltype(fn());
    Failure failure;
    try {
        if constexpr (std::is_void_v<Result>) {
            fn();
            return;
        } else {
            return fn();
        }
    } catch (const PgError& e) {
        failure.pg = e.edata();
    } catch (const Error& e) {
        failure.sqlstate = sqlstate_for(e.kind());
        failure.message = copy_message(e.what());
        failure.hint = e.hint().empty() ? nullptr : copy_message(e.hint().c_str());
    } catch (const std::bad_alloc&) {
        failure.sqlstate = ERRCODE_OUT_OF_MEMORY;
        failure.message = copy_message("rulekeeper: out of memory");
    } catch (const std::exception& e) {
        failure.sqlstate = ERRCODE_INTERNAL_ERROR;
        failure.message = copy_message(e.what());
    } catch (...) {
        failure.sqlstate = ERRCODE_INTERNAL_ERROR;
        failure.message = copy_message("rulekeeper: unknown C++ exception");
    }
    // Outside every catch block: no C++ object of the body is alive any more.
    raise(failure);
}

}  // namespace rulekeeper::pg
