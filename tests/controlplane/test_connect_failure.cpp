// site/connect.hpp ConnectFailure (issue #15 item 10): libpq's texts for a
// server that refused the login versus one that is down or not accepting
// sessions. The live cases (a NOLOGIN role against a real server) are in
// tests/integration/test_watch.cpp; these are the texts no test server makes
// easily (pg_hba, passwords, a missing database).
#include <gtest/gtest.h>

#include "site/connect.hpp"

namespace rulekeeper::site {
namespace {

bool refused(const std::string& message) { return classify_connect_error(message).refused(); }

TEST(ConnectFailure, RefusedByServer) {
  const std::string at = R"(connection to server at "10.0.0.5", port 5432 failed: FATAL:  )";
  EXPECT_TRUE(refused(at + R"(password authentication failed for user "mon")"));  // 28P01
  EXPECT_TRUE(refused(at + R"(no pg_hba.conf entry for host "10.0.0.9", user "mon", database "rules", no encryption)"));
  EXPECT_TRUE(refused(at + R"(pg_hba.conf rejects connection for host "10.0.0.9", user "mon", database "rules")"));
  EXPECT_TRUE(refused(at + R"(role "mon" is not permitted to log in)"));
  EXPECT_TRUE(refused(at + R"(role "mon" does not exist)"));
  EXPECT_TRUE(refused(at + R"(database "rules" does not exist)"));
  EXPECT_TRUE(refused(at + R"(permission denied for database "rules")"));
  EXPECT_TRUE(refused(at + R"(Ident authentication failed for user "mon")"));
  EXPECT_TRUE(refused(R"(connection to server at "10.0.0.5", port 5432 failed: fe_sendauth: no password supplied)"));
  const ConnectFailure f = classify_connect_error(at + "role \"mon\" is not permitted to log in\n");
  EXPECT_EQ(f.kind_name(), "refused_by_server");
  EXPECT_EQ(f.message.find('\n'), std::string::npos);  // one line
}

TEST(ConnectFailure, Unreachable) {
  EXPECT_FALSE(refused(R"(connection to server at "127.0.0.1", port 5432 failed: Connection refused
	Is the server running on that host and accepting TCP/IP connections?)"));
  EXPECT_FALSE(refused(R"(connection to server at "10.0.0.5", port 5432 failed: timeout expired)"));
  EXPECT_FALSE(refused(R"(could not translate host name "ipc2.example" to address: Name or service not known)"));
  EXPECT_FALSE(refused(R"(connection to server at "10.0.0.5", port 5432 failed: FATAL:  the database system is )"
                       R"(starting up)"));
  EXPECT_FALSE(refused(R"(connection to server at "10.0.0.5", port 5432 failed: FATAL:  the database system is )"
                       R"(shutting down)"));
  EXPECT_FALSE(refused("server closed the connection unexpectedly"));
  EXPECT_EQ(classify_connect_error("timeout expired").kind_name(), "unreachable");
}

}  // namespace
}  // namespace rulekeeper::site
