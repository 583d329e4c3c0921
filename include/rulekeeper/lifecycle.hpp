// The lifecycle as data (docs/design/architecture.md "Two facts per version at E3"): which
// qualifications exist in which environment, which transitions between them
// are allowed and under what condition, and which qualifications each channel
// admits. The extension's trigger, its SQL views, rulectl's messages and the
// docs all read these tables; nothing re-states them as a web of ifs.
#pragma once
#include "rulekeeper/no_postgres.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rulekeeper {

enum class Environment { e1, e2, e3 };
std::optional<Environment> parse_environment(std::string_view text);  // "e1" | "e2" | "e3"
std::string_view to_string(Environment env);
// The environment a release into env comes from: e2 <- e1, e3 <- e2; none for e1.
std::optional<Environment> previous_environment(Environment env);

struct Qualification {
  std::string_view name;  // "draft", "in_test", ...
  Environment environment;
  bool initial;              // a version may be born with it (by create_version, import, hotfix, reconcile)
  bool final;                // no transition leaves it
  std::string_view meaning;  // one line for people: docs, CLI, the SQL view
};

struct Transition {
  Environment environment;
  std::string_view from;
  std::string_view to;
  // When set, the transition is allowed only while the version is active in
  // this channel ("sl"): SL validates only what SL serves.
  std::optional<std::string_view> requires_active_in;
};

enum class Admission { admitted, needs_acknowledge, refused };

struct ChannelAdmission {
  std::string_view channel;  // "sl" | "prod"
  std::string_view qualification;
  bool needs_acknowledge;  // prod admits "recovered" only when acknowledged
};

const std::vector<Qualification>& qualifications();
const std::vector<Transition>& transitions();
const std::vector<ChannelAdmission>& channel_admissions();
const std::vector<std::string_view>& channels();  // {"sl", "prod"}
// Throws Error(invalid_input) naming the channels when `channel` is not one
// of them: a pod asking for "green" must hear that it is misconfigured, not
// get an empty rule set (issue 15 item 19).
void require_channel(std::string_view channel);

const Qualification* find_qualification(std::string_view name);                 // nullptr if unknown
const Transition* find_transition(std::string_view from, std::string_view to);  // nullptr if not allowed
std::vector<std::string_view> allowed_next(std::string_view from);              // in table order
// The qualification a version takes on arriving in env by a release:
// e1 "draft" (authored there), e2 "in_test", e3 "awaiting_sl".
std::string_view arrival_qualification(Environment env);
Admission admits(std::string_view channel, std::string_view qualification);

// The channels by role: soft launch ("sl", green) and production ("prod",
// blue), the two rows of channels().
inline constexpr std::string_view soft_launch_channel = "sl";
inline constexpr std::string_view production_channel = "prod";

// A release as the lifecycle sees it: what may leave env by a release (e1
// "draft", e2 "test_passed"; nothing at e3, the end of the pipeline), and
// what it becomes at the source once it left ("promoted"). Both are rows of
// transitions().
std::string_view released_qualification();
std::optional<std::string_view> releasable_qualification(Environment env);
// A recorded test outcome: at e2 "test_passed" | "test_failed" (from
// "in_test"), at e3 "sl_validated" | "sl_failed" (soft launch, from
// "awaiting_sl"); nothing is validated at e1.
std::optional<std::string_view> validation_outcome(Environment env, bool passed);

// A one-sentence message for a refused transition that names the current and
// the requested qualification and lists what is allowed from the current one
// ("none: 'promoted' is final" when nothing is), e.g.
// "transition from 'draft' to 'sl_validated' is not allowed; from 'draft' a version may become: promoted".
std::string describe_refused_transition(std::string_view from, std::string_view to);

}  // namespace rulekeeper
