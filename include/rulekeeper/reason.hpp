// Reasons: the free text a person gives for a change (transition, hotfix),
// journaled and shown in history. A reason must say something: one that is
// empty or made only of characters that print as nothing is refused.
#pragma once
#include "rulekeeper/no_postgres.hpp"

#include <string_view>

namespace rulekeeper {

// True when `utf8` shows nothing: it is empty or every code point is
// Unicode White_Space (tab, newline, U+00A0, U+2000..U+200A, U+3000, ...),
// a control character (Cc), a Default_Ignorable_Code_Point (zero-width
// space and joiners, U+FEFF, U+180E, bidi controls, variation selectors,
// Hangul fillers, tags, ...) or U+2800 (braille blank). Bytes that are not
// valid UTF-8 count as visible.
bool is_blank(std::string_view utf8);

}  // namespace rulekeeper
