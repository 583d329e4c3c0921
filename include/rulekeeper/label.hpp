// Version labels: "N" for a planned version (hotfix = 0), "N.k" for the k-th
// hotfix made on top of version N (k >= 1). Every function and flag speaks labels.
#pragma once
#include "rulekeeper/no_postgres.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace rulekeeper {

struct Label {
  std::int32_t version = 0;  // >= 1
  std::int32_t hotfix = 0;   // 0 for planned versions
  std::string text() const;  // "3" or "3.1"
  bool operator==(const Label& o) const { return version == o.version && hotfix == o.hotfix; }
};

// Accepts "N" or "N.k" with N >= 1, k >= 1, decimal digits only, no leading
// zeros, no sign, no spaces, each part fitting int32. Throws Error(invalid_input)
// naming the text and the accepted forms.
Label parse_label(std::string_view text);

}  // namespace rulekeeper
