// Implementation of the C++/PostgreSQL error boundary (see guard.hpp).
#include "guard.hpp"

#include <cstring>

namespace rulekeeper::pg {

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
    // MCXT_ALLOC_NO_OOM: returning null is the only failure, never an ereport.
    std::size_t len = std::strlen(text);
    char* copy = static_cast<char*>(MemoryContextAllocExtended(CurrentMemoryContext, len + 1, MCXT_ALLOC_NO_OOM));
    if (copy == nullptr) return const_cast<char*>("rulekeeper: out of memory while reporting an error");
    std::memcpy(copy, text, len + 1);
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
