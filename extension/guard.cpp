// Implementation of the C++/PostgreSQL error boundary (see guard.hpp).
#include "guard.hpp"

#include <algorithm>
#include <cstring>

namespace rulekeeper::pg {

namespace detail {

bool in_guarded_body = false;

void refuse_nested_guarded() {
  throw Error(ErrorKind::internal,
              "rulekeeper: guarded() was called from inside a guarded body; the nested body did not run",
              "This is a bug in rulekeeper: a guarded body reaches PostgreSQL only through pg_call and never "
              "enters guarded() itself (CONTRIBUTING.md, \"The C++/PostgreSQL boundary\").");
}

}  // namespace detail

void reset_after_abort() noexcept { detail::in_guarded_body = false; }

char* palloc_copy(const char* data, std::size_t len) {
  if (len >= MaxAllocSize) throw std::bad_alloc();
  char* copy = palloc_items<char>(len + 1);
  std::memcpy(copy, data, len);
  copy[len] = '\0';
  return copy;
}

int sqlstate_for(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::invalid_json: return ERRCODE_INVALID_TEXT_REPRESENTATION;
    case ErrorKind::invalid_input: return ERRCODE_INVALID_PARAMETER_VALUE;
    case ErrorKind::inexact_number: return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
    case ErrorKind::not_allowed: return ERRCODE_CHECK_VIOLATION;
    case ErrorKind::corrupted: return ERRCODE_DATA_CORRUPTED;
    case ErrorKind::not_supported: return ERRCODE_FEATURE_NOT_SUPPORTED;
    case ErrorKind::internal: return ERRCODE_INTERNAL_ERROR;
  }
  return ERRCODE_INTERNAL_ERROR;
}

char* copy_message(const char* text) noexcept {
  // MCXT_ALLOC_NO_OOM: returning null is the only failure, never an ereport
  // (and a length past MaxAllocSize, which would ereport, is cut short).
  std::size_t len = std::min<std::size_t>(std::strlen(text), MaxAllocSize - 1);
  char* copy = static_cast<char*>(MemoryContextAllocExtended(CurrentMemoryContext, len + 1, MCXT_ALLOC_NO_OOM));
  if (copy == nullptr) return const_cast<char*>("rulekeeper: out of memory while reporting an error");
  std::memcpy(copy, text, len);
  copy[len] = '\0';
  return copy;
}

void raise(const Failure& failure) {
  if (failure.pg != nullptr) ReThrowError(failure.pg);
  if (failure.hint != nullptr)
    ereport(ERROR, (errcode(failure.sqlstate), errmsg_internal("%s", failure.message), errhint("%s", failure.hint)));
  ereport(ERROR, (errcode(failure.sqlstate), errmsg_internal("%s", failure.message)));
  pg_unreachable();
}

}  // namespace rulekeeper::pg
