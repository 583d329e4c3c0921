// The one mechanism that keeps C++ and PostgreSQL error handling apart
// (CONTRIBUTING.md, "The C++/PostgreSQL boundary").
//
// Two rules, both enforced by the shape of the code rather than by care:
//
//  1. C++ objects with destructors live only inside `guarded(...)` bodies.
//     `guarded` catches every exception, copies its message into palloc'd
//     memory, *leaves the catch block* (so the exception object and every C++
//     frame are gone), and only then raises ereport(ERROR). What it returns
//     crosses the boundary, so it must be plain data (a static_assert refuses
//     a result with a destructor). Bodies do not nest: a guarded() called
//     from inside a guarded body is refused with an error (see
//     detail::in_guarded_body).
//
//  2. Inside a guarded body, every call into PostgreSQL that can ereport goes
//     through `pg_call(...)` (or the typed helpers palloc_items, palloc0_items
//     and palloc_copy built on it), which runs it under PG_TRY, turns a
//     PostgreSQL error into a C++ `PgError` (unwinding C++ frames properly),
//     and lets `guarded` re-throw the original ErrorData (SQLSTATE, detail
//     and hint intact) once the C++ frames are gone. The body given to
//     pg_call is plain PostgreSQL C and must be declared `noexcept` (a
//     static_assert checks it): a C++ exception must not leave a PG_TRY block.
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
  const char* what() const noexcept override {
    return edata_ && edata_->message ? edata_->message : "PostgreSQL error";
  }
  ErrorData* edata() const noexcept { return edata_; }

private:
  ErrorData* edata_;  // palloc'd by CopyErrorData in the caller's memory context
};

namespace detail {

// True while a guarded body runs with no pg_call between it and the code
// running now. A guarded() entered while it is true is a nested call: the
// inner one would raise its ereport across the outer body's C++ frames, so
// it is refused before its body runs (it throws, and the outer guarded
// reports the refusal after unwinding its own body).
//
// Kept right on every exit path:
//  * guarded clears it when its body returns and when it catches an
//    exception, before raising anything;
//  * pg_call clears it for the PostgreSQL code it runs (which may reach
//    another guarded body legitimately: SPI firing one of our triggers) and
//    restores it whether that code returns or ereports;
//  * reset_after_abort() clears it when a (sub)transaction aborts, for an
//    ereport that escaped a guarded body without pg_call (a bug of its own):
//    every frame between the error and its catch site is gone by then.
// A backend runs one thread, so a plain global is enough.
extern bool in_guarded_body;

[[noreturn]] void refuse_nested_guarded();

}  // namespace detail

// Called by the (sub)transaction abort callbacks before anything else they
// do (txn_state.cpp); see detail::in_guarded_body.
void reset_after_abort() noexcept;

// Runs `fn` (plain PostgreSQL C calls, no C++ throw) so that an ereport
// inside it becomes a PgError instead of a longjmp across C++ frames. Only
// inside a guarded body: nothing else catches the PgError.
template <typename Fn>
void pg_call(Fn&& fn) {
  static_assert(noexcept(fn()),
                "pg_call runs its callable under PG_TRY, which a C++ exception must never leave: declare the "
                "lambda noexcept (it holds plain PostgreSQL C), or allocate with palloc_items/palloc_copy");
  Assert(detail::in_guarded_body);
  MemoryContext caller_context = CurrentMemoryContext;
  const bool was_in_guarded_body = detail::in_guarded_body;
  ErrorData* volatile edata = nullptr;
  detail::in_guarded_body = false;
  PG_TRY();
  { fn(); }
  PG_CATCH();
  {
    detail::in_guarded_body = was_in_guarded_body;
    MemoryContextSwitchTo(caller_context);
    edata = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  detail::in_guarded_body = was_in_guarded_body;
  if (edata != nullptr) throw PgError(edata);
}

// Typed palloc for guarded bodies, through pg_call: out of memory (or a size
// past MaxAllocSize) arrives as a C++ exception, never as a longjmp. Only
// for plain C types, since no constructor or destructor will ever run. (Not
// named palloc_array: PostgreSQL 15.x's palloc.h has a macro of that name.)
template <typename T>
T* palloc_items(std::size_t n) {
  static_assert(std::is_trivial_v<T>, "palloc_items is for plain C types: no constructor or destructor runs");
  if (n > MaxAllocSize / sizeof(T)) throw std::bad_alloc();
  void* memory = nullptr;
  pg_call([&]() noexcept { memory = palloc(n * sizeof(T)); });
  return static_cast<T*>(memory);
}

// Like palloc_items, zero-filled.
template <typename T>
T* palloc0_items(std::size_t n) {
  static_assert(std::is_trivial_v<T>, "palloc0_items is for plain C types: no constructor or destructor runs");
  if (n > MaxAllocSize / sizeof(T)) throw std::bad_alloc();
  void* memory = nullptr;
  pg_call([&]() noexcept { memory = palloc0(n * sizeof(T)); });
  return static_cast<T*>(memory);
}

// A palloc'd, NUL-terminated copy of len bytes (for a guarded body's result
// text, e.g. palloc_copy(s.data(), s.size()) for a std::string).
char* palloc_copy(const char* data, std::size_t len);

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
  // The result outlives the body and is handed to PostgreSQL code that may
  // ereport: an object with a destructor there would never be destroyed.
  static_assert(std::is_void_v<Result> || std::is_trivially_destructible_v<Result>,
                "guarded() must return plain data (void, a number, a palloc'd pointer): a result with a "
                "destructor would cross into PostgreSQL frames that an ereport can jump over");
  // Before any of the body runs. By construction (pg_call clears the flag)
  // a set flag means we are inside the outer body's try block: the throw
  // unwinds it and the outer guarded reports the refusal.
  if (detail::in_guarded_body) detail::refuse_nested_guarded();
  detail::in_guarded_body = true;
  Failure failure;
  try {
    if constexpr (std::is_void_v<Result>) {
      fn();
      detail::in_guarded_body = false;
      return;
    } else {
      Result result = fn();
      detail::in_guarded_body = false;
      return result;
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
  detail::in_guarded_body = false;
  raise(failure);
}

}  // namespace rulekeeper::pg
