// The application_name every connection rulectl opens carries: "rulectl
// <verb>" ("rulectl hotfix list"), so a DBA sees in pg_stat_activity and in
// the server log which rulectl verb holds a connection or a lock. main() sets
// it once the verb is parsed; connections pass it as libpq's
// fallback_application_name, so an application_name in a site's conninfo
// (or PGAPPNAME) still wins.
#pragma once

#include <string>

namespace rulekeeper::common {

void set_application_name(std::string name);
// "rulectl" until set.
const std::string& application_name();

}  // namespace rulekeeper::common
