// The admin portal (issue #19 items 1-3; controlplane/portal/) against real
// clusters (pipeline.hpp: e1, e2, ipc2 the E3 primary, ipc1 its standby) and
// the real `rulectl portal`, over HTTP with a client of its own (cookies and
// Accept headers; http/client.hpp sends neither):
//
// - a wrong password: a clear page (401, the refusal, no cookie, no trace);
// - the session cookie's flags (HttpOnly, SameSite=Strict, Path=/);
// - the JSON twins of the pages: what ops reports (the same as the CLI's);
// - a reader's activate refused by the database, in the CLI's words
//   (`rulectl --json activate` as the same role says exactly the same);
// - a POST without (or with a wrong) csrf_token: 403, nothing changed;
// - the hotfix gate: refused without the acknowledgement, done with it, the
//   journal's acknowledgement and actor those of the person logged in;
// - an expired session (a portal with a 1.2 s idle timeout): a clear page.
//
// Logins authenticate by password (scram-sha-256 for members of
// sandbox_password_login, sandbox/cluster.cpp's pg_hba.conf); every other
// connection of the fixture trusts loopback. The portals are Daemons:
// stopped by their destructors also when an assertion fails.
// Ports: integration_portal in tests/ports.txt.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "daemon.hpp"
#include "pipeline.hpp"

using namespace rulekeeper;
using nlohmann::json;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
namespace ports = rulekeeper::testing::ports;
namespace fs = std::filesystem;
namespace net = boost::asio;

extern char** environ;

namespace {

constexpr int kNodes = ports::integration_portal[0];  // e1, e2, ipc2, ipc1: [0..3]
constexpr int kPortal = ports::integration_portal[5];
constexpr int kShortPortal = ports::integration_portal[6];
constexpr const char* kRule = "portal.discount";

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using rulekeeper::testing::Daemon;

struct Reply {
  int status = 0;                                   // 0: nothing answered
  std::multimap<std::string, std::string> headers;  // names lower-case
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  json doc() const { return json::parse(body, nullptr, false); }
};

// One HTTP/1.0 exchange (the server closes; no chunked encoding).
Reply http(int port, const std::string& method, const std::string& path, const std::string& cookie = "",
           const std::string& form = "", bool want_json = true) {
  Reply r;
  try {
    net::io_context ctx;
    net::ip::tcp::socket s(ctx);
    s.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    std::string req = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
    if (want_json) req += "Accept: application/json\r\n";
    if (!cookie.empty()) req += "Cookie: rulekeeper_session=" + cookie + "\r\n";
    if (method == "POST")
      req += fmt::format("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n", form.size());
    req += "\r\n" + form;
    net::write(s, net::buffer(req));
    std::string all;
    char buf[8192];
    boost::system::error_code ec;
    for (;;) {
      const std::size_t n = s.read_some(net::buffer(buf), ec);
      all.append(buf, n);
      if (ec) break;
    }
    const std::size_t end = all.find("\r\n\r\n");
    if (end == std::string::npos) return r;
    std::istringstream head(all.substr(0, end));
    std::string line;
    std::getline(head, line);
    r.status = std::stoi(line.substr(9, 3));
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers.emplace(name, value);
    }
    r.body = all.substr(end + 4);
  } catch (const std::exception&) {
    r.status = 0;
  }
  return r;
}

void wait_listening(int port, Daemon& d) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < end) {
    ASSERT_TRUE(d.running()) << "the portal exited:\n" << d.log();
    if (http(port, "GET", "/login").status != 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "the portal does not listen on " << port << ":\n" << d.log();
}

std::string enc(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

struct Login {
  std::string cookie;
  std::string csrf;
  std::string set_cookie;
};

Login login(int port, const std::string& user, const std::string& password) {
  const Reply r = http(port, "POST", "/login", "", "user=" + enc(user) + "&password=" + enc(password));
  Login l;
  EXPECT_EQ(r.status, 200) << r.body;
  l.set_cookie = r.header("set-cookie");
  std::smatch m;
  if (std::regex_search(l.set_cookie, m, std::regex("rulekeeper_session=([0-9a-f]+)"))) l.cookie = m[1];
  l.csrf = r.doc().value("csrf_token", std::string());
  return l;
}

// The pipeline's config with [portal] (and the given idle minutes).
std::string portal_config(const Pipeline& p, int port, const std::string& idle) {
  const std::string path = p.config + fmt::format(".portal{}.toml", port);
  std::ofstream(path) << read_text(p.config)
                      << fmt::format("\n[portal]\nlisten = \"127.0.0.1:{}\"\nsession_idle_minutes = {}\n", port, idle);
  return path;
}

// The pipeline's config as `user` with `password` (the CLI's view of a person).
std::string config_as(const Pipeline& p, const std::string& user, const std::string& password) {
  const std::string text =
      std::regex_replace(read_text(p.config), std::regex("user=postgres"), "user=" + user + " password=" + password);
  const std::string path = p.config + "." + user + ".toml";
  std::ofstream(path) << text;
  return path;
}

long long history_rows(const Pipeline& p) {
  return std::stoll(sql_value(*p.ipc2, "SELECT count(*) FROM rulekeeper.activation_history"));
}

TEST(Portal, LoginSessionsRefusalsAndTheHotfixGate) {
  Pipeline p(kNodes);
  p.create_rule(kRule, "portal");
  p.create_version(kRule, R"({"rate": 1, "note": "<script>alert(1)</script> \"q\" été"})");
  p.ship();
  p.to_prod(kRule, "1");
  // A hotfix 1.1 of prod (the gate of moving prod back to 1 lists it).
  sql_value(*p.ipc2, "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('portal', ARRAY['/rate'])");
  sql_value(*p.ipc2, "SELECT rulekeeper.hotfix($1, $2::jsonb, 'rate fix INC-1', NULL)::text", std::string(kRule),
            std::string(R"({"rate": 2, "note": "<script>alert(1)</script> \"q\" été"})"));
  // People with passwords: a reader and a releaser (password logins: members
  // of sandbox_password_login, see sandbox/cluster.cpp's pg_hba.conf).
  sql_value(*p.ipc2, "CREATE ROLE sandbox_password_login NOLOGIN");
  sql_value(*p.ipc2,
            "CREATE ROLE ann_reader LOGIN PASSWORD 'ann-pw' IN ROLE rulekeeper_reader, sandbox_password_login");
  sql_value(*p.ipc2,
            "CREATE ROLE rob_releaser LOGIN PASSWORD 'rob-pw' IN ROLE rulekeeper_releaser, sandbox_password_login");
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));

  Daemon portal("portal", {RULECTL_BINARY, "--config", portal_config(p, kPortal, "30"), "portal"});
  ASSERT_NO_FATAL_FAILURE(wait_listening(kPortal, portal));

  std::cout << "a wrong password: 401, the refusal, no session" << std::endl;
  {
    const Reply r = http(kPortal, "POST", "/login", "", "user=rob_releaser&password=wrong", false);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.header("set-cookie"), "") << "no session for a wrong password";
    EXPECT_NE(r.body.find("class=\"refusal\" role=\"alert\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("password authentication failed for user"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("id=\"login\""), std::string::npos) << "the login form again";
  }
  std::cout << "not logged in: the login page, JSON 401" << std::endl;
  {
    const Reply html = http(kPortal, "GET", "/rules", "", "", false);
    EXPECT_EQ(html.status, 303);
    EXPECT_EQ(html.header("location"), "/login");
    EXPECT_EQ(http(kPortal, "GET", "/rules").status, 401);
  }

  std::cout << "the reader logs in: the cookie's flags" << std::endl;
  const Login ann = login(kPortal, "ann_reader", "ann-pw");
  ASSERT_FALSE(ann.cookie.empty()) << ann.set_cookie;
  ASSERT_EQ(ann.cookie.size(), 64u) << "256 random bits";
  for (const char* flag : {"; HttpOnly", "; SameSite=Strict", "; Path=/"})
    EXPECT_NE(ann.set_cookie.find(flag), std::string::npos) << flag << " in " << ann.set_cookie;
  EXPECT_EQ(ann.set_cookie.find("Secure"), std::string::npos) << "no Secure flag on plain HTTP";

  std::cout << "the JSON twins" << std::endl;
  {
    const Reply o = http(kPortal, "GET", "/", ann.cookie);
    ASSERT_EQ(o.status, 200) << o.body;
    const json d = o.doc();
    EXPECT_EQ(d["replication"]["primary"], "ipc2") << o.body;
    EXPECT_EQ(d["at_risk_total"], 0) << o.body;
    const Reply rules = http(kPortal, "GET", "/rules?q=discount", ann.cookie);
    ASSERT_EQ(rules.status, 200) << rules.body;
    const json rd = rules.doc();
    ASSERT_EQ(rd["rules"].size(), 1u) << rules.body;
    EXPECT_EQ(rd["rules"][0]["sites"]["ipc2"]["prod"]["label"], "1.1") << rules.body;
    EXPECT_EQ(rd["rules"][0]["sites"]["ipc2"]["prod"]["hotfix"], true) << rules.body;
    EXPECT_EQ(rd["rules"][0]["sites"]["ipc1"]["prod"]["label"], "1.1") << rules.body;
    EXPECT_EQ(rd["rules"][0]["prod_differs"], false) << rules.body;
    // `rulectl rules --json` is the same ops function: the same document.
    const auto cli = p.ok({"--json", "rules", "--grep", "discount"});
    EXPECT_EQ(json::parse(cli.out)["rules"], rd["rules"]) << cli.out;
    EXPECT_EQ(http(kPortal, "GET", "/rules?q=nothing-like-it", ann.cookie).doc()["rules"].size(), 0u);

    const Reply rule = http(kPortal, "GET", "/rules/" + enc(kRule) + "?channel=prod&label=1", ann.cookie);
    ASSERT_EQ(rule.status, 200) << rule.body;
    const json rj = rule.doc();
    ASSERT_EQ(rj["versions"].size(), 2u) << rule.body;
    EXPECT_EQ(rj["versions"][1]["origin"], "hotfix");
    ASSERT_EQ(rj["hotfix_gate"].size(), 1u) << rule.body;
    EXPECT_EQ(rj["hotfix_gate"][0]["label"], "1.1");
    const Reply diff = http(kPortal, "GET", "/rules/" + enc(kRule) + "/diff?from=1&to=1.1", ann.cookie);
    ASSERT_EQ(diff.status, 200) << diff.body;
    ASSERT_EQ(diff.doc()["diff"].size(), 1u) << diff.body;
    EXPECT_EQ(diff.doc()["diff"][0]["path"], "/rate");
    const Reply html = http(kPortal, "GET", "/rules/" + enc(kRule) + "/diff?from=1&to=1.1", ann.cookie, "", false);
    EXPECT_NE(html.body.find("<tr class=\"diff-replaced\" data-path=\"/rate\">"), std::string::npos) << html.body;
    // Data is text, never markup.
    EXPECT_EQ(html.body.find("<script>alert(1)"), std::string::npos) << html.body;
    EXPECT_NE(html.body.find("&lt;script&gt;alert(1)"), std::string::npos) << html.body;
    const Reply hotfixes = http(kPortal, "GET", "/hotfixes", ann.cookie);
    ASSERT_EQ(hotfixes.status, 200) << hotfixes.body;
    ASSERT_EQ(hotfixes.doc()["hotfixes"].size(), 1u) << hotfixes.body;
    EXPECT_EQ(hotfixes.doc()["hotfixes"][0]["reason"], "rate fix INC-1");
    EXPECT_EQ(hotfixes.doc()["hotfixes"][0]["applied_at"]["ipc1"], true) << hotfixes.body;
  }

  const std::string activate = "/rules/" + enc(kRule) + "/activate";
  const long long before = history_rows(p);
  std::cout << "POST without or with a wrong csrf_token: 403, nothing changed" << std::endl;
  {
    const Reply none = http(kPortal, "POST", activate, ann.cookie, "channel=prod&label=1", false);
    EXPECT_EQ(none.status, 403) << none.body;
    EXPECT_NE(none.body.find("class=\"refusal\" role=\"alert\""), std::string::npos) << none.body;
    const Reply wrong =
        http(kPortal, "POST", activate, ann.cookie, "channel=prod&label=1&csrf_token=" + std::string(64, 'a'));
    EXPECT_EQ(wrong.status, 403) << wrong.body;
    EXPECT_NE(wrong.doc().value("message", std::string()).find("csrf_token"), std::string::npos) << wrong.body;
    EXPECT_EQ(http(kPortal, "POST", activate, "", "channel=prod&label=1").status, 403) << "no session";
    EXPECT_EQ(history_rows(p), before);
  }

  std::cout << "the reader's activate: refused by the database, the CLI's words" << std::endl;
  {
    const Reply r = http(kPortal, "POST", activate, ann.cookie, "channel=prod&label=1&csrf_token=" + ann.csrf);
    EXPECT_EQ(r.status, 403) << r.body;
    const json d = r.doc();
    EXPECT_EQ(d["sqlstate"], "42501") << r.body;
    EXPECT_EQ(d["exit_code"], 3) << r.body;
    const auto cli = rulekeeper::testing::run_rulectl({"--config", config_as(p, "ann_reader", "ann-pw"), "--json",
                                                       "--yes", "activate", "--site", "e3", "--channel", "prod",
                                                       "--rule", kRule, "--version", "1"});
    EXPECT_EQ(cli.exit_code, 3) << cli.err;
    const json c = json::parse(cli.out, nullptr, false);
    EXPECT_EQ(d["message"], c["message"]) << cli.out;
    EXPECT_EQ(d["hint"], c["hint"]) << cli.out;
    EXPECT_NE(d.value("message", std::string()).find("permission denied for function activate"), std::string::npos);
    const Reply html =
        http(kPortal, "POST", activate, ann.cookie, "channel=prod&label=1&csrf_token=" + ann.csrf, false);
    EXPECT_NE(html.body.find("<p class=\"refusal-reason\">activate refused at ipc2: permission denied"),
              std::string::npos)
        << html.body;
    EXPECT_EQ(history_rows(p), before);
  }

  std::cout << "the releaser and the hotfix gate: refused without, done with the acknowledgement" << std::endl;
  {
    const Login rob = login(kPortal, "rob_releaser", "rob-pw");
    const Reply refused = http(kPortal, "POST", activate, rob.cookie, "channel=prod&label=1&csrf_token=" + rob.csrf);
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(refused.doc()["sqlstate"], "23514") << refused.body;
    EXPECT_NE(refused.doc().value("hint", std::string()).find("--acknowledge-hotfix 1.1"), std::string::npos)
        << refused.body;
    EXPECT_EQ(history_rows(p), before);
    const Reply done = http(kPortal, "POST", activate, rob.cookie,
                            "channel=prod&label=1&acknowledge_hotfix=1.1&reason=back&csrf_token=" + rob.csrf);
    ASSERT_EQ(done.status, 200) << done.body;
    EXPECT_EQ(done.doc()["after"]["label"], "1") << done.body;
    EXPECT_EQ(done.doc()["acknowledged_hotfixes"], json::array({"1.1"})) << done.body;
    EXPECT_EQ(sql_value(*p.ipc2,
                        "SELECT actor || ' ' || acknowledged::text FROM rulekeeper.activation_history "
                        "WHERE rule_key = $1 AND channel = 'prod' ORDER BY epoch DESC LIMIT 1",
                        std::string(kRule))
                  .substr(0, 13),
              "rob_releaser ");
    EXPECT_NE(sql_value(*p.ipc2,
                        "SELECT acknowledged::text FROM rulekeeper.activation_history "
                        "WHERE rule_key = $1 AND channel = 'prod' ORDER BY epoch DESC LIMIT 1",
                        std::string(kRule))
                  .find("1.1"),
              std::string::npos);
    std::cout << "pods: hold and release of ipc1's prod (the reader refused)" << std::endl;
    const Reply reader_hold =
        http(kPortal, "POST", "/pods/hold", ann.cookie, "site=ipc1&channel=prod&reason=r&csrf_token=" + ann.csrf);
    EXPECT_EQ(reader_hold.status, 403) << reader_hold.body;
    EXPECT_EQ(reader_hold.doc()["sqlstate"], "42501") << reader_hold.body;
    const Reply hold = http(kPortal, "POST", "/pods/hold", rob.cookie,
                            "site=ipc1&channel=prod&reason=" + enc("watch ipc1 <b>") + "&csrf_token=" + rob.csrf);
    ASSERT_EQ(hold.status, 200) << hold.body;
    p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
    auto held = [&](const json& channels) {
      for (const auto& c : channels)
        if (c["site"] == "ipc1" && c["channel"] == "prod") return c.value("held", false);
      return false;
    };
    const Reply pods = http(kPortal, "GET", "/pods", rob.cookie);
    ASSERT_EQ(pods.status, 200) << pods.body;
    EXPECT_TRUE(held(pods.doc()["channels"])) << pods.body;
    EXPECT_EQ(http(kPortal, "GET", "/", rob.cookie).doc()["held_notifications"].size(), 1u);
    const Reply release =
        http(kPortal, "POST", "/pods/release", rob.cookie, "site=ipc1&channel=prod&reason=done&csrf_token=" + rob.csrf);
    ASSERT_EQ(release.status, 200) << release.body;
    p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
    EXPECT_FALSE(held(http(kPortal, "GET", "/pods", rob.cookie).doc()["channels"]));

    std::cout << "logout: the session ends" << std::endl;
    const Reply out = http(kPortal, "POST", "/logout", rob.cookie, "csrf_token=" + rob.csrf, false);
    EXPECT_EQ(out.status, 200) << out.body;
    EXPECT_NE(out.header("set-cookie").find("Max-Age=0"), std::string::npos);
    EXPECT_EQ(http(kPortal, "GET", "/rules", rob.cookie).status, 401);
  }

  std::cout << "an expired session: a clear page" << std::endl;
  {
    // 0.02 minutes: 1.2 s idle.
    Daemon short_portal("portal-short", {RULECTL_BINARY, "--config", portal_config(p, kShortPortal, "0.02"), "portal"});
    ASSERT_NO_FATAL_FAILURE(wait_listening(kShortPortal, short_portal));
    const Login l = login(kShortPortal, "ann_reader", "ann-pw");
    ASSERT_EQ(http(kShortPortal, "GET", "/hotfixes", l.cookie).status, 200);
    // Idle for longer than the timeout (the behaviour under test is the
    // passing of idle time itself).
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    const Reply r = http(kShortPortal, "GET", "/hotfixes", l.cookie, "", false);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_NE(r.body.find("your session expired"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("id=\"login\""), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("Traceback"), std::string::npos);
    EXPECT_EQ(short_portal.stop(), 0) << short_portal.log();
  }
  EXPECT_EQ(portal.stop(), 0) << portal.log();
}

}  // namespace
