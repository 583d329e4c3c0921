// _is_blank(text): the core's is_blank (include/rulekeeper/reason.hpp) for
// SQL, behind rulekeeper._require_reason and the hotfix table's CHECK.
#include "guard.hpp"
#include "rulekeeper/reason.hpp"

#include <cstring>
#include <string_view>

extern "C" {
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
}

extern "C" {

PG_FUNCTION_INFO_V1(rk_is_blank);
PGDLLEXPORT Datum rk_is_blank(PG_FUNCTION_ARGS) {
  text* t = PG_GETARG_TEXT_PP(0);
  // The core reads UTF-8; a database in another encoding converts first.
  const char* data = VARDATA_ANY(t);
  int len = VARSIZE_ANY_EXHDR(t);
  char* utf8 = pg_server_to_any(data, len, PG_UTF8);
  if (utf8 != data) len = static_cast<int>(strlen(utf8));
  bool blank = rulekeeper::pg::guarded([&] { return rulekeeper::is_blank(std::string_view(utf8, len)); });
  PG_RETURN_BOOL(blank);
}

}  // extern "C"
