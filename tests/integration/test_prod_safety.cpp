// Issue 15 items 1-5 for release, validate, activate, deactivate, rollback,
// pin, unpin and cutover, on real clusters (e1, e2, ipc2 as the E3 primary)
// through the built rulectl:
//   - a change of production asks on a terminal ("n": nothing changed,
//     exit 3; "y": changed), refuses without a terminal and without --yes
//     (exit 2, nothing changed, one JSON error document with --json), and
//     e1/e2 never ask;
//   - --dry-run checks and reports everything, says so at the top and the
//     bottom, changes nothing (journal, activations, versions, checksum),
//     reports the same refusal the real run would, and never asks;
//   - the hotfix gate lists every hotfix a move of prod would undo with its
//     diff, --acknowledge-hotfix must name exactly those, the record holds
//     exactly those; pin goes through the same gate; cutover's refusal names
//     the hotfixes, shows their diffs and the CLI flag.
// Ports: integration_prod_safety in tests/ports.txt (four per test).
#include <chrono>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pgnode/process.hpp"
#include "pipeline.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
using rulekeeper::testing::effective;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
using rulekeeper::testing::state_fingerprint;

namespace {

constexpr int kPorts = ports::integration_prod_safety[0];

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

// Runs rulectl under a pseudo-terminal (python3's pty): when it asks
// "Proceed? [y/N]", answers `answer`. stdout and stderr arrive together (the
// terminal); "[asked]" is appended when the question was seen.
const char* kPtyDriver = R"PY(
import os, pty, select, sys, time
answer, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out, asked, deadline = b"", False, time.time() + 90
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.5)
    if fd in r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
        if not asked and b"Proceed? [y/N]" in out:
            os.write(fd, (answer + "\n").encode())
            asked = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace") + ("\n[asked]\n" if asked else "\n"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 99)
)PY";

CommandResult on_terminal(const Pipeline& p, const std::string& answer, std::vector<std::string> args) {
  const auto script = rulekeeper::testing::write_temp_file("pty_driver.py", kPtyDriver);
  const auto out = rulekeeper::testing::write_temp_file("pty_driver.out", "");
  std::vector<std::string> argv{"python3", script.string(), answer, RULECTL_BINARY, "--config", p.config};
  argv.insert(argv.end(), args.begin(), args.end());
  process::RunOptions o;
  o.stdout_file = out;
  o.timeout = std::chrono::seconds(120);
  const process::RunResult r = process::run(argv, o);
  CommandResult c;
  c.exit_code = r.signaled || r.timed_out ? -1 : r.exit_code;
  std::ifstream in(out);
  c.out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return c;
}

// What must not change when nothing is changed: the E3 primary's checksum,
// journal, release log, epoch and versions, and every activation.
std::string e3_state(const Pipeline& p) {
  return state_fingerprint(*p.ipc2) + " sl=" + effective(*p.ipc2, "sl") + " prod=" + effective(*p.ipc2, "prod") +
         " vv=" + sql_value(*p.ipc2, "SELECT rulekeeper.version_vector()::text") +
         " pins=" + sql_value(*p.ipc2, "SELECT count(*) FROM rulekeeper.activation WHERE pinned");
}

std::string qualification(const cluster::Node& n, const std::string& rule, const std::string& label) {
  return sql_value(n, "SELECT qualification FROM rulekeeper.rule_version WHERE rule_key = $1 AND label = $2", rule,
                   label);
}

// A hotfix at the E3 primary through SQL (the hotfix verb is not under test
// here); returns its label.
std::string hotfix(const Pipeline& p, const std::string& rule, const std::string& body, const std::string& reason) {
  return sql_value(*p.ipc2, "SELECT rulekeeper.hotfix($1, $2::jsonb, $3) ->> 'label'", rule, body, reason);
}

// A new version authored at e1, released to e2, passed there, released to e3.
void ship_version(Pipeline& p, const std::string& rule, const std::string& body) {
  const std::string label = p.create_version(rule, body);
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", rule, "--version", label, "--result", "passed"});
  p.ok({"release", "--yes", "--from", "e2", "--to", "e3"});
}

}  // namespace

// Item 1: activate (and the other verbs) in production ask on a terminal,
// refuse without one unless --yes, and never ask at e1/e2.
TEST(ProdSafety, ProductionChangesAskOnATerminalAndRefuseWithoutOneUnlessYes) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 0.1})");
  // e1 -> e2 and validate at e2: not production, no question, no --yes.
  auto e2 = p.rulectl({"release", "--from", "e1", "--to", "e2"});
  ASSERT_EQ(e2.exit_code, 0) << describe(e2);
  auto v = p.rulectl({"validate", "--site", "e2", "--rule", "pricing", "--version", "1", "--result", "passed"});
  ASSERT_EQ(v.exit_code, 0) << describe(v);

  // A release into E3 without a terminal and without --yes: exit 2, nothing
  // imported at ipc2, nothing marked at e2.
  std::string before = e3_state(p);
  auto rel = p.rulectl({"release", "--from", "e2", "--to", "e3"});
  EXPECT_EQ(rel.exit_code, 2) << describe(rel);
  EXPECT_TRUE(contains(rel.err, "rulectl release changes production and asks first")) << rel.err;
  EXPECT_EQ(e3_state(p), before);
  EXPECT_EQ(qualification(*p.e2, "pricing", "1"), "test_passed");

  // On a terminal: the plan names what would be imported; "n" changes nothing.
  auto no = on_terminal(p, "n", {"release", "--from", "e2", "--to", "e3"});
  EXPECT_EQ(no.exit_code, 3) << no.out;
  EXPECT_TRUE(contains(no.out, "[asked]")) << no.out;
  EXPECT_TRUE(contains(no.out, "pricing 1: import")) << no.out;
  EXPECT_TRUE(contains(no.out, "nothing was changed")) << no.out;
  EXPECT_EQ(e3_state(p), before);
  EXPECT_EQ(qualification(*p.e2, "pricing", "1"), "test_passed");
  auto yes = on_terminal(p, "y", {"release", "--from", "e2", "--to", "e3"});
  ASSERT_EQ(yes.exit_code, 0) << yes.out;
  EXPECT_EQ(qualification(*p.ipc2, "pricing", "1"), "awaiting_sl");
  EXPECT_EQ(qualification(*p.e2, "pricing", "1"), "promoted");

  // activate at E3: refused without a terminal (exit 2; --json: one error
  // document on stdout), "n" on a terminal changes nothing, "y" activates.
  before = e3_state(p);
  auto refused = p.rulectl({"activate", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  EXPECT_EQ(refused.exit_code, 2) << describe(refused);
  EXPECT_TRUE(contains(refused.err, "rulectl activate changes production")) << refused.err;
  EXPECT_EQ(e3_state(p), before);
  auto as_json =
      p.rulectl({"--json", "activate", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  EXPECT_EQ(as_json.exit_code, 2) << describe(as_json);
  const json doc = json::parse(as_json.out);
  EXPECT_EQ(doc["error"], "usage");
  EXPECT_EQ(doc["exit_code"], 2);
  EXPECT_TRUE(contains(doc["hint"].get<std::string>(), "--yes")) << as_json.out;
  EXPECT_EQ(e3_state(p), before);

  no = on_terminal(p, "n", {"activate", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  EXPECT_EQ(no.exit_code, 3) << no.out;
  EXPECT_TRUE(contains(no.out, "activate rule pricing in sl at ipc2 (production)")) << no.out;
  EXPECT_TRUE(contains(no.out, "sl: (none) -> 1")) << no.out;
  EXPECT_EQ(e3_state(p), before);
  yes = on_terminal(p, "y", {"activate", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  ASSERT_EQ(yes.exit_code, 0) << yes.out;
  EXPECT_TRUE(contains(yes.out, "[asked]")) << yes.out;
  EXPECT_EQ(effective(*p.ipc2, "sl"), "pricing=1");

  // validate in soft launch, pin, unpin, rollback, deactivate, cutover: each
  // refuses without a terminal and without --yes, and changes nothing.
  before = e3_state(p);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"validate", "--site", "e3", "--rule", "pricing", "--version", "1", "--result", "passed"},
           {"pin", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1"},
           {"deactivate", "--site", "e3", "--channel", "sl", "--rule", "pricing"}}) {
    auto r = p.rulectl(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << describe(r);
    EXPECT_EQ(e3_state(p), before) << args[0];
  }
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "pricing", "--version", "1", "--result", "passed"});
  before = e3_state(p);
  auto cut = p.rulectl({"cutover", "--site", "e3"});
  EXPECT_EQ(cut.exit_code, 2) << describe(cut);
  EXPECT_EQ(e3_state(p), before);
  auto cut_yes = p.rulectl({"cutover", "--yes", "--site", "e3"});
  ASSERT_EQ(cut_yes.exit_code, 0) << describe(cut_yes);
  EXPECT_EQ(effective(*p.ipc2, "prod"), "pricing=1");
}

// Item 2: --dry-run changes nothing, says so, reports what the real run
// would do, and the same refusal; it never asks.
TEST(ProdSafety, DryRunsChangeNothingAndReportWhatTheRealRunWould) {
  Pipeline p(kPorts + 4, /*with_ipc1=*/false);
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 0.1})");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", "pricing", "--version", "1", "--result", "passed"});

  // release: what it would import and the signature, nothing imported or marked.
  std::string before = e3_state(p);
  auto rel = p.rulectl({"release", "--dry-run", "--from", "e2", "--to", "e3"});
  ASSERT_EQ(rel.exit_code, 0) << describe(rel);
  EXPECT_EQ(rel.out.rfind("dry run:", 0), 0u) << rel.out;
  EXPECT_TRUE(contains(rel.out, "1 would be imported")) << rel.out;
  EXPECT_TRUE(contains(rel.out, "drift: none")) << rel.out;
  EXPECT_TRUE(std::regex_search(rel.out, std::regex("dry run: nothing was imported at ipc2[^\n]*\n$"))) << rel.out;
  EXPECT_EQ(e3_state(p), before);
  EXPECT_EQ(qualification(*p.e2, "pricing", "1"), "test_passed");
  auto rel_json = p.rulectl({"--json", "release", "--dry-run", "--from", "e2", "--to", "e3"});
  ASSERT_EQ(rel_json.exit_code, 0) << describe(rel_json);
  EXPECT_EQ(json::parse(rel_json.out)["dry_run"], true);
  EXPECT_EQ(e3_state(p), before);
  p.ok({"release", "--yes", "--from", "e2", "--to", "e3"});

  // activate: the same refusal as the real run (prod does not admit
  // awaiting_sl), dry run or not; nothing changed either way.
  before = e3_state(p);
  const std::vector<std::string> prod1{"activate", "--site",  "e3",        "--channel", "prod",
                                       "--rule",   "pricing", "--version", "1"};
  auto dry_prod = p.rulectl([&] {
    auto a = prod1;
    a.push_back("--dry-run");
    return a;
  }());
  auto real_prod = p.rulectl([&] {
    auto a = prod1;
    a.push_back("--yes");
    return a;
  }());
  EXPECT_EQ(dry_prod.exit_code, 3) << describe(dry_prod);
  EXPECT_EQ(real_prod.exit_code, 3) << describe(real_prod);
  const std::string refusal = "channel prod does not admit version 1 of rule \"pricing\": it is awaiting_sl";
  EXPECT_TRUE(contains(dry_prod.err, refusal)) << dry_prod.err;
  EXPECT_TRUE(contains(real_prod.err, refusal)) << real_prod.err;
  EXPECT_TRUE(contains(dry_prod.err, "dry run")) << dry_prod.err;
  EXPECT_TRUE(contains(dry_prod.out, "dry run: refused, as the real run would be; nothing was changed"))
      << dry_prod.out;
  EXPECT_EQ(e3_state(p), before);

  // A dry run needs no --yes and no terminal: it never asks.
  auto dry_sl =
      p.rulectl({"activate", "--dry-run", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  ASSERT_EQ(dry_sl.exit_code, 0) << describe(dry_sl);
  EXPECT_EQ(dry_sl.out.rfind("dry run:", 0), 0u) << dry_sl.out;
  EXPECT_TRUE(contains(dry_sl.out, "would be: activated rule pricing in sl at ipc2: (none) -> 1")) << dry_sl.out;
  EXPECT_TRUE(std::regex_search(dry_sl.out, std::regex("dry run: nothing was changed\n$"))) << dry_sl.out;
  auto dry_json = p.rulectl(
      {"--json", "activate", "--dry-run", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  ASSERT_EQ(dry_json.exit_code, 0) << describe(dry_json);
  EXPECT_EQ(json::parse(dry_json.out)["dry_run"], true);
  EXPECT_EQ(json::parse(dry_json.out)["after"]["label"], "1");
  EXPECT_EQ(e3_state(p), before);

  // Into prod, then a hotfix; version 2 arrives without it and passes SL.
  p.to_prod("pricing", "1");
  sql_value(*p.ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('pricing', "
            "ARRAY['/rate']) RETURNING ruleset");
  EXPECT_EQ(hotfix(p, "pricing", R"({"rate": 0.15})", "rate too low"), "1.1");
  ship_version(p, "pricing", R"({"rate": 0.1, "tiers": [100]})");
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "2"});
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "pricing", "--version", "2", "--result", "passed"});

  // The hotfix gate in a dry run: the refusal with the diff and the flag;
  // acknowledged, the dry run shows what it acknowledges; nothing changed.
  before = e3_state(p);
  auto gated =
      p.rulectl({"activate", "--dry-run", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "2"});
  EXPECT_EQ(gated.exit_code, 3) << describe(gated);
  EXPECT_TRUE(contains(gated.err, "would undo hotfix(es) 1.1")) << gated.err;
  EXPECT_TRUE(contains(gated.err, "/rate: 0.1 -> 0.15")) << gated.err;
  EXPECT_TRUE(contains(gated.err, "--acknowledge-hotfix 1.1")) << gated.err;
  auto acked = p.rulectl({"activate", "--dry-run", "--site", "e3", "--channel", "prod", "--rule", "pricing",
                          "--version", "2", "--acknowledge-hotfix", "1.1"});
  ASSERT_EQ(acked.exit_code, 0) << describe(acked);
  EXPECT_TRUE(contains(acked.out, "hotfix gate: undoes 1.1, acknowledged (1.1)")) << acked.out;
  EXPECT_TRUE(contains(acked.out, "/rate: 0.1 -> 0.15")) << acked.out;
  EXPECT_TRUE(contains(acked.out, "the change would serve /rate: 0.1 (prod serves 0.15)")) << acked.out;
  EXPECT_EQ(e3_state(p), before);

  // pin, rollback, deactivate, unpin, cutover: each dry run reports and
  // changes nothing.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"pin", "--dry-run", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "1.1"},
           {"pin", "--dry-run", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "2",
            "--acknowledge-hotfix", "1.1"},
           {"rollback", "--dry-run", "--site", "e3", "--channel", "sl", "--rule", "pricing"},
           {"deactivate", "--dry-run", "--site", "e3", "--channel", "sl", "--rule", "pricing"},
           {"cutover", "--dry-run", "--site", "e3", "--acknowledge-hotfix", "pricing@1.1"}}) {
    auto r = p.rulectl(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << describe(r);
    EXPECT_EQ(r.out.rfind("dry run:", 0), 0u) << r.out;
    EXPECT_TRUE(contains(r.out, "dry run: nothing was changed")) << r.out;
    EXPECT_EQ(e3_state(p), before) << args[0];
  }
  auto cut = p.rulectl({"cutover", "--dry-run", "--site", "e3", "--acknowledge-hotfix", "pricing@1.1"});
  EXPECT_TRUE(contains(cut.out, "1 rule(s) would move to prod")) << cut.out;
  EXPECT_TRUE(contains(cut.out, "would move (undoes hotfix(es) 1.1, acknowledged)")) << cut.out;
  auto cut_refused = p.rulectl({"cutover", "--dry-run", "--site", "e3"});
  EXPECT_EQ(cut_refused.exit_code, 3) << describe(cut_refused);
  EXPECT_TRUE(contains(cut_refused.err, "--acknowledge-hotfix pricing@1.1")) << cut_refused.err;
  p.ok({"pin", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "1.1"});
  before = e3_state(p);
  auto unpin = p.rulectl({"unpin", "--dry-run", "--site", "e3", "--channel", "prod", "--rule", "pricing"});
  ASSERT_EQ(unpin.exit_code, 0) << describe(unpin);
  EXPECT_TRUE(contains(unpin.out, "1.1 (pinned) -> 1.1")) << unpin.out;
  EXPECT_EQ(e3_state(p), before);
}

// Items 3, 4, 5: the gate lists every hotfix with its diff; the
// acknowledgement must name exactly those and the record holds exactly
// those; pin takes the same acknowledgement; cutover names them, shows the
// diffs and the CLI flag.
TEST(ProdSafety, AcknowledgementNamesExactlyWhatTheGateShowed) {
  Pipeline p(kPorts + 8, /*with_ipc1=*/false);
  p.create_rule("fees");
  p.create_version("fees", R"({"rate": 0.1, "cap": 10})");
  p.ship();
  p.to_prod("fees", "1");
  sql_value(*p.ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('fees', "
            "ARRAY['/rate', '/cap']) RETURNING ruleset");
  // 1.1 (/rate); version 2 arrives without it (annotated: overrides 1.1);
  // then 1.2 (/cap) on top of 1.1, which 2's annotation cannot know about.
  EXPECT_EQ(hotfix(p, "fees", R"({"rate": 0.15, "cap": 10})", "rate too low"), "1.1");
  ship_version(p, "fees", R"({"rate": 0.1, "cap": 10, "note": "planned"})");
  EXPECT_EQ(hotfix(p, "fees", R"({"rate": 0.15, "cap": 20})", "cap too low"), "1.2");
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "fees", "--version", "2"});
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "fees", "--version", "2", "--result", "passed"});

  // Today's refusal named only 1.1; the list holds both, each with its diff.
  std::string before = e3_state(p);
  const std::vector<std::string> act{"activate", "--yes",  "--site", "e3",        "--channel",
                                     "prod",     "--rule", "fees",   "--version", "2"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = act;
    a.insert(a.end(), extra.begin(), extra.end());
    return p.rulectl(a);
  };
  auto r = with({});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "would undo hotfix(es) 1.1 (overrides; /rate), 1.2 (/cap)")) << r.err;
  EXPECT_TRUE(contains(r.err, "hotfix 1.1 changed: /rate: 0.1 -> 0.15")) << r.err;
  EXPECT_TRUE(contains(r.err, "hotfix 1.2 changed: /cap: 10 -> 20")) << r.err;
  EXPECT_TRUE(contains(r.err, "rulectl activate --acknowledge-hotfix 1.1,1.2")) << r.err;
  // An acknowledgement of a different set is refused, naming the difference.
  r = with({"--acknowledge-hotfix", "1.1"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "not acknowledged: 1.2")) << r.err;
  r = with({"--acknowledge-hotfix", "1.1,1.2,1.3"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "acknowledged but not undone: 1.3")) << r.err;
  EXPECT_EQ(e3_state(p), before);
  // Exactly those: prod moves, and the record holds exactly those.
  r = with({"--acknowledge-hotfix", "1.2,1.1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hotfix gate: undoes 1.1, 1.2, acknowledged (1.2,1.1)")) << r.out;
  EXPECT_EQ(effective(*p.ipc2, "prod"), "fees=2");
  EXPECT_EQ(sql_value(*p.ipc2,
                      "SELECT string_agg(payload ->> 'acknowledged_hotfixes', ';') FROM rulekeeper.journal "
                      "WHERE kind = 'acknowledgement' AND label = '2'"),
            R"(["1.1", "1.2"])");
  for (const char* label : {"1.1", "1.2"})
    EXPECT_EQ(sql_value(*p.ipc2,
                        "SELECT count(*) FROM rulekeeper.hotfix_acknowledgements((SELECT hotfix_id FROM "
                        "rulekeeper.hotfix WHERE label = $1))",
                        std::string(label)),
              "1")
        << label;

  // pin: the same gate, the same flag (today pin refused with a flag it did
  // not accept).
  EXPECT_EQ(hotfix(p, "fees", R"({"rate": 0.2, "cap": 10, "note": "planned"})", "rate again"), "2.1");
  before = e3_state(p);
  r = p.rulectl({"pin", "--yes", "--site", "e3", "--channel", "prod", "--rule", "fees", "--version", "2"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "hotfix 2.1 changed: /rate: 0.1 -> 0.2")) << r.err;
  EXPECT_TRUE(contains(r.err, "rulectl pin --acknowledge-hotfix 1.1,2.1")) << r.err;
  EXPECT_EQ(e3_state(p), before);
  r = p.rulectl({"pin", "--yes", "--site", "e3", "--channel", "prod", "--rule", "fees", "--version", "2",
                 "--acknowledge-hotfix", "1.1,2.1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(sql_value(*p.ipc2, "SELECT prod_label || ' ' || prod_pinned FROM rulekeeper.rule_state"), "2 true");
  EXPECT_EQ(sql_value(*p.ipc2,
                      "SELECT payload ->> 'acknowledged_hotfixes' FROM rulekeeper.journal WHERE kind = "
                      "'acknowledgement' AND payload ->> 'action' = 'pin'"),
            R"(["1.1", "2.1"])");
  p.ok({"unpin", "--yes", "--site", "e3", "--channel", "prod", "--rule", "fees"});

  // cutover: the refusal names the hotfixes, shows their diffs, and its hint
  // is the CLI flag with the exact list; that list moves it.
  EXPECT_EQ(hotfix(p, "fees", R"({"rate": 0.25, "cap": 10, "note": "planned"})", "rate once more"), "2.2");
  ship_version(p, "fees", R"({"rate": 0.1, "cap": 10, "note": "next"})");
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "fees", "--version", "3"});
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "fees", "--version", "3", "--result", "passed"});
  before = e3_state(p);
  r = p.rulectl({"cutover", "--yes", "--site", "e3"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "hotfix 2.2 changed: /rate: 0.1 -> 0.25")) << r.err;
  EXPECT_TRUE(contains(r.err, "version 3 would serve instead: /rate: 0.1 (prod serves 0.25)")) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("rulectl cutover --acknowledge-hotfix (fees@[^ ]+)"))) << r.err;
  const std::string list = m[1];
  EXPECT_TRUE(contains(list, "fees@2.2")) << list;
  EXPECT_EQ(e3_state(p), before);
  r = p.rulectl({"cutover", "--yes", "--site", "e3", "--acknowledge-hotfix", "fees@2.2"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_EQ(e3_state(p), before);
  r = p.rulectl({"cutover", "--yes", "--site", "e3", "--acknowledge-hotfix", list});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(effective(*p.ipc2, "prod"), "fees=3");
  std::string labels = list;
  labels = std::regex_replace(labels, std::regex("fees@"), "");
  EXPECT_EQ(sql_value(*p.ipc2,
                      "SELECT array_to_string(ARRAY(SELECT jsonb_array_elements_text(payload -> "
                      "'acknowledged_hotfixes')), ',') FROM rulekeeper.journal WHERE kind = "
                      "'acknowledgement' AND payload ->> 'action' = 'cutover'"),
            labels);
}
