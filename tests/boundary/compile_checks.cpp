// Compile-time checks of the C++/PostgreSQL boundary (extension/guard.hpp),
// compiled by the CTest tests in CMakeLists.txt next to this file, one case
// per RK_CASE_* macro. Each refused case must fail to compile with the
// static_assert's own message (the tests match it), so that a broken check
// shows up as a passing compile, and a broken setup (a missing include) as a
// different error; RK_CASE_ACCEPTED must compile, which shows the setup is
// sound and that the allowed shapes stay allowed.
#include "guard.hpp"

#include <string>

namespace rp = rulekeeper::pg;

int use_the_boundary() {
#if defined(RK_CASE_ACCEPTED)
  // Plain results, a noexcept pg_call, the typed helpers.
  rp::guarded([] {});
  int n = rp::guarded([] { return 42; });
  char* text = rp::guarded([] { return rp::palloc_copy("abc", 3); });
  int* ids = rp::guarded([] { return rp::palloc_items<int>(4); });
  rp::guarded([] { rp::pg_call([]() noexcept { (void)palloc(8); }); });
  return n + (text != nullptr) + (ids != nullptr);
#elif defined(RK_CASE_STRING_RESULT)
  // A std::string handed back across the boundary: refused.
  std::string s = rp::guarded([] { return std::string("never destroyed if an ereport follows"); });
  return static_cast<int>(s.size());
#elif defined(RK_CASE_THROWING_PG_CALL)
  // A pg_call body that is not noexcept: refused.
  rp::guarded([] { rp::pg_call([] { (void)palloc(8); }); });
  return 0;
#elif defined(RK_CASE_PALLOC_CLASS)
  // palloc_items of a type with a constructor/destructor: refused.
  rp::guarded([] { (void)rp::palloc_items<std::string>(1); });
  return 0;
#else
#error "define one RK_CASE_* macro"
#endif
}
