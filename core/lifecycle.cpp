// The lifecycle tables of docs/design/architecture.md "Two facts per version at E3": the
// qualifications, the allowed transitions between them, and what each channel
// admits. Everything else (the trigger, the views, rulectl, the docs) reads
// these rows; the functions below only look rows up.
#include "rulekeeper/lifecycle.hpp"

#include "rulekeeper/error.hpp"

namespace rulekeeper {

std::optional<Environment> parse_environment(std::string_view text) {
  if (text == "e1") return Environment::e1;
  if (text == "e2") return Environment::e2;
  if (text == "e3") return Environment::e3;
  return std::nullopt;
}

std::string_view to_string(Environment env) {
  switch (env) {
    case Environment::e1: return "e1";
    case Environment::e2: return "e2";
    case Environment::e3: return "e3";
  }
  return "unknown";
}

std::optional<Environment> previous_environment(Environment env) {
  switch (env) {
    case Environment::e1: return std::nullopt;
    case Environment::e2: return Environment::e1;
    case Environment::e3: return Environment::e2;
  }
  return std::nullopt;
}

const std::vector<Qualification>& qualifications() {
  using E = Environment;
  static const std::vector<Qualification> rows = {
      // name            env    initial final  meaning
      {"draft", E::e1, true, false, "authored at E1, not yet released"},
      {"promoted", E::e1, false, true, "released to E2 (its bundle was imported there)"},
      {"in_test", E::e2, true, false, "released to E2, under test"},
      {"test_passed", E::e2, false, false, "passed its tests at E2: may be released to E3"},
      {"test_failed", E::e2, false, true, "failed its tests at E2"},
      {"promoted", E::e2, false, true, "released to E3 (its bundle was imported there)"},
      {"awaiting_sl", E::e3, true, false, "released to E3, not active / awaiting SL validation"},
      {"sl_validated", E::e3, false, false, "validated in soft launch: ready for production"},
      {"sl_failed", E::e3, false, true, "failed in soft launch (or a defect found later)"},
      {"hotfix", E::e3, true, false, "a direct fix made at the E3 primary"},
      {"recovered", E::e3, true, false, "an orphaned change brought back by reconcile"},
  };
  return rows;
}

const std::vector<Transition>& transitions() {
  using E = Environment;
  // SL validates (or fails) only what SL serves; a defect found later may
  // fail a validated version wherever it runs.
  static const std::vector<Transition> rows = {
      {E::e1, "draft", "promoted", std::nullopt},
      {E::e2, "in_test", "test_passed", std::nullopt},
      {E::e2, "in_test", "test_failed", std::nullopt},
      {E::e2, "test_passed", "promoted", std::nullopt},
      {E::e3, "awaiting_sl", "sl_validated", std::string_view("sl")},
      {E::e3, "awaiting_sl", "sl_failed", std::string_view("sl")},
      {E::e3, "sl_validated", "sl_failed", std::nullopt},
      {E::e3, "recovered", "sl_validated", std::string_view("sl")},
      {E::e3, "recovered", "sl_failed", std::string_view("sl")},
  };
  return rows;
}

const std::vector<ChannelAdmission>& channel_admissions() {
  // A positive list: a (channel, qualification) pair not here is refused.
  static const std::vector<ChannelAdmission> rows = {
      {"sl", "awaiting_sl", false}, {"sl", "sl_validated", false},   {"sl", "hotfix", false},
      {"sl", "recovered", false},   {"prod", "sl_validated", false}, {"prod", "hotfix", false},
      {"prod", "recovered", true},
  };
  return rows;
}

const std::vector<std::string_view>& channels() {
  static const std::vector<std::string_view> rows = {soft_launch_channel, production_channel};
  return rows;
}

void require_channel(std::string_view channel) {
  for (std::string_view c : channels())
    if (c == channel) return;
  std::string shown(channel.substr(0, 64));
  if (channel.size() > 64) shown += "...";
  throw Error(ErrorKind::invalid_input,
              "unknown channel \"" + shown + "\"; the channels are " + std::string(soft_launch_channel) + " and " +
                  std::string(production_channel),
              std::string(soft_launch_channel) + " is the soft-launch (green) channel, " +
                  std::string(production_channel) + " the production (blue) one.");
}

// "promoted" exists at e1 and at e2; both rows are final with no outgoing
// transition, so returning the first is enough for every caller here.
const Qualification* find_qualification(std::string_view name) {
  for (const auto& q : qualifications())
    if (q.name == name) return &q;
  return nullptr;
}

const Transition* find_transition(std::string_view from, std::string_view to) {
  for (const auto& t : transitions())
    if (t.from == from && t.to == to) return &t;
  return nullptr;
}

std::vector<std::string_view> allowed_next(std::string_view from) {
  std::vector<std::string_view> out;
  for (const auto& t : transitions())
    if (t.from == from) out.push_back(t.to);
  return out;
}

std::string_view arrival_qualification(Environment env) {
  switch (env) {
    case Environment::e1: return "draft";
    case Environment::e2: return "in_test";
    case Environment::e3: return "awaiting_sl";
  }
  return "draft";
}

std::string_view released_qualification() { return "promoted"; }

std::optional<std::string_view> releasable_qualification(Environment env) {
  for (const auto& t : transitions())
    if (t.environment == env && t.to == released_qualification()) return t.from;
  return std::nullopt;
}

std::optional<std::string_view> validation_outcome(Environment env, bool passed) {
  switch (env) {
    case Environment::e1: return std::nullopt;
    case Environment::e2: return passed ? "test_passed" : "test_failed";
    case Environment::e3: return passed ? "sl_validated" : "sl_failed";
  }
  return std::nullopt;
}

Admission admits(std::string_view channel, std::string_view qualification) {
  for (const auto& a : channel_admissions())
    if (a.channel == channel && a.qualification == qualification)
      return a.needs_acknowledge ? Admission::needs_acknowledge : Admission::admitted;
  return Admission::refused;
}

std::string describe_refused_transition(std::string_view from, std::string_view to) {
  auto quoted = [](std::string_view s) { return "'" + std::string(s) + "'"; };
  if (!find_qualification(from)) return "unknown qualification " + quoted(from);
  if (!find_qualification(to)) return "unknown qualification " + quoted(to);
  std::string head = "transition from " + quoted(from) + " to " + quoted(to) + " is not allowed";
  if (const Transition* t = find_transition(from, to)) {
    // Allowed by the table, so refused only by its condition.
    if (t->requires_active_in) return head + " while the version is not active in " + quoted(*t->requires_active_in);
    return head;  // not reached by a correct caller: the table allows it
  }
  std::vector<std::string_view> next = allowed_next(from);
  if (next.empty()) {
    if (find_qualification(from)->final) return head + "; " + quoted(from) + " is final";
    return head + "; from " + quoted(from) + " a version may become: none";
  }
  std::string list;
  for (std::string_view n : next) {
    if (!list.empty()) list += ", ";
    list += n;
  }
  return head + "; from " + quoted(from) + " a version may become: " + list;
}

}  // namespace rulekeeper
