// The pod gateway (issue #18 item 2, docs/gateway.md, protocol in
// docs/pods.md): what `rulectl gateway` knows and decides, without HTTP.
//
// - GatewayState: the set each channel serves (read from the node, never
//   anything else), the node's role, reachability and lag, the pods seen and
//   the epoch each was last served, and the pods waiting for news (long polls
//   and SSE streams as callbacks). Thread-safe; callbacks run outside its lock.
// - Timers: one thread for the long polls' deadlines and the streams'
//   keep-alives.
// - NodeFollower: one thread and one connection to the node (LISTEN where it
//   is a primary, polling notification_state every poll interval where it is
//   a standby; a promotion switches it to LISTEN), reconnecting with backoff;
//   reads a channel's set when the epoch it should serve (the held epoch while
//   held) differs from the one it serves, and publishes it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/config.hpp"

namespace rulekeeper::ops::gateway {

using SteadyClock = std::chrono::steady_clock;

// A channel's set as served: the JSON of the protocol's 200 answer, rendered
// once, around the stale_seconds that changes per answer.
struct ServedSet {
  std::string channel;
  long long epoch = 0;  // what is served: the held epoch while held
  bool held = false;
  std::string head;  // {"site":..,"channel":..,"epoch":N,"held":b,"stale_seconds":
  std::string tail;  // ,"rules":[..]}
  std::size_t rules = 0;

  // The body; stale_seconds null when fresh.
  std::string body(std::optional<double> stale_seconds) const;
};

struct ChannelTarget {
  std::string channel;
  long long current_epoch = 0;
  bool held = false;
  std::optional<long long> held_epoch;
  long long target() const { return held && held_epoch ? *held_epoch : current_epoch; }
};

struct NodeReport {
  bool primary = false;
  std::optional<double> replay_lag_seconds;
  std::optional<double> heartbeat_age_seconds;
  std::vector<ChannelTarget> channels;
};

struct RuleRow {
  std::string rule_key;
  std::string label;
  std::string body_json;
  std::string content_sha256;
};

// Where a pod request stands.
struct Lookup {
  bool loaded = false;         // the node was read at least once (the channel list is known)
  bool known_channel = false;  // among the node's channels
  std::vector<std::string> channels;
  std::shared_ptr<const ServedSet> set;  // null until the channel's set was read
  std::optional<double> stale_seconds;   // set while the node is unreachable
};

struct PodInfo {
  std::string pod;
  std::string channel;
  std::map<std::string, std::string> labels;
  bool labels_given = false;  // a request without the labels header keeps the pod's labels
  std::string remote;
};

class GatewayState {
public:
  GatewayState(std::string site, std::string node);

  const std::string& site() const { return site_; }
  const std::string& node() const { return node_; }
  void set_site(const std::string& site);

  // --- the node side (NodeFollower) ---
  void reached(const NodeReport& report);
  // Only a set read from the node; wakes the channel's waiters when its
  // served epoch changed (a set at another channel's epoch wakes nobody).
  void publish(const std::string& channel, long long epoch, bool held, const std::vector<RuleRow>& rules);
  void unreachable(const std::string& error);
  void set_connections(int n);
  // What the follower should read: channels whose served epoch differs
  // from their target (or are not read yet).
  std::vector<ChannelTarget> to_read() const;

  // --- the pods' side ---
  Lookup lookup(const std::string& channel) const;
  // A waiter: called once with the channel's new set (its epoch > after), or
  // never when cancelled. Returns 0 and calls nothing when the set already is
  // past `after` (the caller looks it up again).
  using Waiter = std::function<void(std::shared_ptr<const ServedSet>)>;
  std::uint64_t wait(const std::string& channel, long long after, Waiter waiter);
  // A stream: called with each new set of the channel, and with nullptr when
  // the node is lost (the stale event) — until unsubscribed.
  std::uint64_t subscribe(const std::string& channel, Waiter subscriber);
  void cancel(std::uint64_t id);

  void pod_seen(const PodInfo& pod);
  void pod_open(const std::string& pod, int delta);  // a long poll or stream opens (+1) / ends (-1)
  void pod_served(const std::string& pod, long long epoch);
  // Sets delivered to waiting pods because a new set came (notifications_total).
  void count_notification(const std::string& channel);

  nlohmann::json pods_json(std::chrono::system_clock::time_point now);
  // {healthy, body} of /healthz.
  std::pair<bool, nlohmann::json> health() const;
  std::string metrics_text();
  std::optional<double> stale_seconds() const;

  static constexpr std::chrono::minutes kForgetAfter{10};

private:
  struct Channel {
    ChannelTarget target;
    std::shared_ptr<const ServedSet> set;
    std::uint64_t notifications = 0;
  };
  struct Listener {
    std::string channel;
    long long after = 0;
    bool stream = false;
    Waiter callback;
  };
  struct Pod {
    PodInfo info;
    std::optional<long long> served_epoch;
    std::chrono::system_clock::time_point last_seen;
    int open = 0;
  };
  std::optional<double> stale_locked(SteadyClock::time_point now) const;
  void forget_locked(std::chrono::system_clock::time_point now);

  mutable std::mutex mu_;
  std::string site_;
  const std::string node_;
  bool loaded_ = false;
  bool reachable_ = false;
  std::string last_error_;
  SteadyClock::time_point last_reached_{};
  NodeReport report_;
  int connections_ = 0;
  std::map<std::string, Channel> channels_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Listener> listeners_;
  std::map<std::string, Pod> pods_;
};

// One thread running callbacks at their time.
class Timers {
public:
  Timers();
  ~Timers();
  Timers(const Timers&) = delete;
  Timers& operator=(const Timers&) = delete;
  std::uint64_t at(SteadyClock::time_point when, std::function<void()> f);
  void cancel(std::uint64_t id);
  void stop();

private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<SteadyClock::time_point, std::uint64_t> order_;
  std::map<std::uint64_t, std::pair<SteadyClock::time_point, std::function<void()>>> jobs_;
  std::uint64_t next_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

struct FollowerOptions {
  config::SiteConfig node;  // conninfo: the gateway's
  std::chrono::milliseconds poll_interval{100};
  // On a primary: the longest wait for a NOTIFY before a poll anyway (holds
  // and promotions of others are learned by polling).
  std::chrono::milliseconds listen_poll{1000};
  std::function<void(const std::string&)> log;  // one line per change of the node's state
};

class NodeFollower {
public:
  NodeFollower(GatewayState& state, FollowerOptions options);
  ~NodeFollower();
  NodeFollower(const NodeFollower&) = delete;
  NodeFollower& operator=(const NodeFollower&) = delete;
  void start();
  void stop();

private:
  void run();
  void sleep_for(std::chrono::milliseconds d);
  GatewayState& state_;
  FollowerOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// "30s", "500ms", "30" (seconds) → milliseconds; nullopt when unreadable.
std::optional<std::chrono::milliseconds> parse_wait(const std::string& text);

// 1-128 of [A-Za-z0-9._:-].
bool valid_pod_id(const std::string& id);
// "zone=a,app=pricing" → labels; nullopt when malformed.
std::optional<std::map<std::string, std::string>> parse_pod_labels(const std::string& text);

}  // namespace rulekeeper::ops::gateway
