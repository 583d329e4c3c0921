// See gateway.hpp.
#include "ops/gateway.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/time.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "http/prometheus.hpp"
#include "site/client/gateway.hpp"
#include "site/client/server_state.hpp"
#include "site/connect.hpp"

namespace rulekeeper::ops::gateway {

namespace {

double seconds(SteadyClock::duration d) {
  return std::round(std::chrono::duration<double>(d).count() * 1000.0) / 1000.0;
}

nlohmann::json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::json(std::round(*v * 1000.0) / 1000.0) : nlohmann::json(nullptr);
}

}  // namespace

std::string ServedSet::body(std::optional<double> stale_seconds) const {
  return head + (stale_seconds ? nlohmann::json(*stale_seconds).dump() : std::string("null")) + tail;
}

GatewayState::GatewayState(std::string site, std::string node) : site_(std::move(site)), node_(std::move(node)) {}

void GatewayState::set_site(const std::string& site) {
  std::lock_guard<std::mutex> lock(mu_);
  site_ = site;
}

void GatewayState::reached(const NodeReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  loaded_ = true;
  reachable_ = true;
  last_error_.clear();
  last_reached_ = SteadyClock::now();
  report_ = report;
  for (const auto& t : report.channels) channels_[t.channel].target = t;
  // A channel the node no longer names is no longer served.
  for (auto it = channels_.begin(); it != channels_.end();) {
    const bool named = std::any_of(report.channels.begin(), report.channels.end(),
                                   [&](const ChannelTarget& t) { return t.channel == it->first; });
    it = named ? std::next(it) : channels_.erase(it);
  }
}

void GatewayState::publish(const std::string& channel, long long epoch, bool held, const std::vector<RuleRow>& rules) {
  auto set = std::make_shared<ServedSet>();
  set->channel = channel;
  set->epoch = epoch;
  set->held = held;
  set->rules = rules.size();
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : rules)
    arr.push_back({{"rule_key", r.rule_key},
                   {"label", r.label},
                   {"body", nlohmann::json::parse(r.body_json)},
                   {"content_sha256", r.content_sha256}});
  std::vector<std::pair<Waiter, std::shared_ptr<const ServedSet>>> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    set->head = fmt::format(R"({{"site":{},"node":{},"channel":{},"epoch":{},"held":{},"stale_seconds":)",
                            nlohmann::json(site_).dump(), nlohmann::json(node_).dump(), nlohmann::json(channel).dump(),
                            epoch, held ? "true" : "false");
    set->tail = ",\"rules\":" + arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "}";
    Channel& ch = channels_[channel];
    const bool changed = !ch.set || ch.set->epoch != epoch;
    ch.set = set;
    if (!changed) return;
    for (auto it = listeners_.begin(); it != listeners_.end();) {
      if (it->second.channel == channel && epoch > it->second.after) {
        wake.emplace_back(it->second.callback, set);
        if (!it->second.stream) {
          it = listeners_.erase(it);
          continue;
        }
        it->second.after = epoch;
      }
      ++it;
    }
  }
  for (auto& [f, s] : wake) f(s);
}

void GatewayState::unreachable(const std::string& error) {
  std::vector<Waiter> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = error;
    connections_ = 0;
    if (!reachable_) return;
    reachable_ = false;
    for (const auto& [id, l] : listeners_)
      if (l.stream) streams.push_back(l.callback);
  }
  for (auto& f : streams) f(nullptr);
}

void GatewayState::set_connections(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  connections_ = n;
}

std::vector<ChannelTarget> GatewayState::to_read() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ChannelTarget> out;
  for (const auto& [name, ch] : channels_) {
    const bool held = ch.target.held && ch.target.held_epoch.has_value();
    if (!ch.set || ch.set->epoch != ch.target.target() || ch.set->held != held) out.push_back(ch.target);
  }
  return out;
}

std::optional<double> GatewayState::stale_locked(SteadyClock::time_point now) const {
  if (reachable_ || !loaded_) return std::nullopt;
  return seconds(now - last_reached_);
}

std::optional<double> GatewayState::stale_seconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stale_locked(SteadyClock::now());
}

Lookup GatewayState::lookup(const std::string& channel) const {
  std::lock_guard<std::mutex> lock(mu_);
  Lookup l;
  l.loaded = loaded_;
  for (const auto& [name, ch] : channels_) l.channels.push_back(name);
  // In the lifecycle's order, as the extension names them ("the channels
  // are sl and prod"), not the map's.
  const auto rank = [](const std::string& c) { return c == soft_launch_channel ? 0 : c == production_channel ? 1 : 2; };
  std::stable_sort(l.channels.begin(), l.channels.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  auto it = channels_.find(channel);
  l.known_channel = it != channels_.end();
  if (l.known_channel) l.set = it->second.set;
  l.stale_seconds = stale_locked(SteadyClock::now());
  return l;
}

std::uint64_t GatewayState::wait(const std::string& channel, long long after, Waiter waiter) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = channels_.find(channel);
  if (it != channels_.end() && it->second.set && it->second.set->epoch > after) return 0;
  const std::uint64_t id = next_id_++;
  listeners_[id] = Listener{channel, after, false, std::move(waiter)};
  return id;
}

std::uint64_t GatewayState::subscribe(const std::string& channel, Waiter subscriber) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint64_t id = next_id_++;
  auto it = channels_.find(channel);
  const long long after = it != channels_.end() && it->second.set ? it->second.set->epoch : 0;
  listeners_[id] = Listener{channel, after, true, std::move(subscriber)};
  return id;
}

void GatewayState::cancel(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.erase(id);
}

void GatewayState::pod_seen(const PodInfo& pod) {
  std::lock_guard<std::mutex> lock(mu_);
  Pod& p = pods_[pod.pod];
  std::map<std::string, std::string> labels = std::move(p.info.labels);
  p.info = pod;
  if (!pod.labels_given) p.info.labels = std::move(labels);
  p.last_seen = std::chrono::system_clock::now();
}

void GatewayState::pod_open(const std::string& pod, int delta) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(pod);
  if (it == pods_.end()) return;
  it->second.open = std::max(0, it->second.open + delta);
  it->second.last_seen = std::chrono::system_clock::now();
}

void GatewayState::pod_served(const std::string& pod, long long epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(pod);
  if (it == pods_.end()) return;
  it->second.served_epoch = epoch;
  it->second.last_seen = std::chrono::system_clock::now();
}

void GatewayState::count_notification(const std::string& channel) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = channels_.find(channel);
  if (it != channels_.end()) ++it->second.notifications;
}

void GatewayState::forget_locked(std::chrono::system_clock::time_point now) {
  for (auto it = pods_.begin(); it != pods_.end();)
    it = (it->second.open == 0 && now - it->second.last_seen > kForgetAfter) ? pods_.erase(it) : std::next(it);
}

nlohmann::json GatewayState::pods_json(std::chrono::system_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  forget_locked(now);
  nlohmann::json pods = nlohmann::json::array();
  for (const auto& [id, p] : pods_) {
    auto ch = channels_.find(p.info.channel);
    const bool served = ch != channels_.end() && ch->second.set != nullptr;
    const long long current = served ? ch->second.set->epoch : 0;
    pods.push_back({{"pod", id},
                    {"channel", p.info.channel},
                    {"labels", p.info.labels},
                    {"served_epoch", p.served_epoch ? nlohmann::json(*p.served_epoch) : nlohmann::json(nullptr)},
                    {"current_epoch", served ? nlohmann::json(current) : nlohmann::json(nullptr)},
                    {"behind", served && (!p.served_epoch || *p.served_epoch < current)},
                    {"connected", p.open > 0},
                    {"last_seen", common::rfc3339_utc(p.last_seen)},
                    {"remote", p.info.remote}});
  }
  return {{"site", site_}, {"node", node_}, {"pods", pods}};
}

std::pair<bool, nlohmann::json> GatewayState::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = SteadyClock::now();
  nlohmann::json epochs = nlohmann::json::object(), served = nlohmann::json::object(), held = nlohmann::json::object();
  bool fresh = loaded_;
  for (const auto& [name, ch] : channels_) {
    epochs[name] = ch.target.current_epoch;
    served[name] = ch.set ? nlohmann::json(ch.set->epoch) : nlohmann::json(nullptr);
    held[name] = ch.target.held;
    if (!ch.set) fresh = false;
  }
  nlohmann::json body = {{"node", node_},
                         {"site", site_},
                         {"role",
                          loaded_ ? nlohmann::json(report_.primary ? "primary" : "standby") : nlohmann::json(nullptr)},
                         {"node_reachable", reachable_},
                         {"replay_lag_seconds", optional_number(report_.replay_lag_seconds)},
                         {"epochs", epochs},
                         {"served_epochs", served},
                         {"held", held},
                         {"stale_seconds", optional_number(stale_locked(now))},
                         {"epoch_age_seconds",
                          loaded_ ? nlohmann::json(seconds(now - last_reached_)) : nlohmann::json(nullptr)}};
  if (!reachable_ && !last_error_.empty()) body["error"] = last_error_;
  return {reachable_ && fresh, body};
}

std::string GatewayState::metrics_text() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::system_clock::now();
  forget_locked(now);
  std::map<std::string, int> connected, behind;
  for (const auto& [name, ch] : channels_) connected[name] = behind[name] = 0;
  for (const auto& [id, p] : pods_) {
    if (p.open > 0) ++connected[p.info.channel];
    auto ch = channels_.find(p.info.channel);
    if (ch != channels_.end() && ch->second.set && (!p.served_epoch || *p.served_epoch < ch->second.set->epoch))
      ++behind[p.info.channel];
  }
  http::MetricsText m;
  m.family("rulekeeper_gateway_node_up", "gauge", "1 when the gateway's latest read of its node succeeded");
  m.sample({{"node", node_}}, reachable_ ? 1.0 : 0.0);
  m.family("rulekeeper_gateway_node_connections", "gauge",
           "Connections the gateway holds to its node (fixed, whatever the number of pods)");
  m.sample({{"node", node_}}, connections_);
  m.family("rulekeeper_gateway_heartbeat_age_seconds", "gauge",
           "Age of the newest heartbeat the node holds at the latest read; NaN when unknown");
  m.sample({{"node", node_}}, report_.heartbeat_age_seconds);
  m.family("rulekeeper_gateway_stale_seconds", "gauge",
           "Seconds since the node was last reached while it is unreachable (0: fresh)");
  m.sample({{"node", node_}}, stale_locked(SteadyClock::now()).value_or(0.0));
  m.family("rulekeeper_gateway_epoch", "gauge", "The channel's current epoch at the node");
  for (const auto& [name, ch] : channels_) m.sample({{"channel", name}}, static_cast<double>(ch.target.current_epoch));
  m.family("rulekeeper_gateway_served_epoch", "gauge",
           "The epoch of the set the gateway serves (the held epoch while held); NaN before the first read");
  for (const auto& [name, ch] : channels_)
    m.sample({{"channel", name}}, ch.set ? std::optional<double>(static_cast<double>(ch.set->epoch)) : std::nullopt);
  m.family("rulekeeper_gateway_held", "gauge", "1 while an operator holds this site's channel");
  for (const auto& [name, ch] : channels_) m.sample({{"channel", name}}, ch.target.held ? 1.0 : 0.0);
  m.family("rulekeeper_gateway_pods", "gauge", "Pods with a long poll or stream open on the channel");
  for (const auto& [name, n] : connected) m.sample({{"channel", name}}, n);
  m.family("rulekeeper_gateway_stale_pods", "gauge",
           "Pods seen in the last 10 minutes whose last served epoch is behind what the gateway serves");
  for (const auto& [name, n] : behind) m.sample({{"channel", name}}, n);
  m.family("rulekeeper_gateway_notifications_total", "counter",
           "New sets delivered to waiting pods (long-poll answers and stream events)");
  for (const auto& [name, ch] : channels_) m.sample({{"channel", name}}, static_cast<double>(ch.notifications));
  return m.text();
}

// --- Timers ---

Timers::Timers() : thread_([this] { run(); }) {}
Timers::~Timers() { stop(); }

std::uint64_t Timers::at(SteadyClock::time_point when, std::function<void()> f) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint64_t id = next_++;
  jobs_[id] = {when, std::move(f)};
  order_.emplace(when, id);
  cv_.notify_all();
  return id;
}

void Timers::cancel(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.erase(id);  // its entry in order_ finds no job and is dropped
}

void Timers::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Timers::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (order_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto [when, id] = *order_.begin();
    if (SteadyClock::now() < when) {
      cv_.wait_until(lock, when);
      continue;
    }
    order_.erase(order_.begin());
    auto job = jobs_.find(id);
    if (job == jobs_.end()) continue;
    std::function<void()> f = std::move(job->second.second);
    jobs_.erase(job);
    lock.unlock();
    try {
      f();
    } catch (...) {
      // A timer's job answers a pod; a failure there concerns that pod only.
    }
    lock.lock();
  }
}

// --- NodeFollower ---

NodeFollower::NodeFollower(GatewayState& state, FollowerOptions options)
    : state_(state), options_(std::move(options)) {}

NodeFollower::~NodeFollower() { stop(); }

void NodeFollower::start() {
  thread_ = std::thread([this] { run(); });
}

void NodeFollower::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void NodeFollower::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopping_; });
}

void NodeFollower::run() {
  auto log = [&](const std::string& line) {
    if (options_.log) options_.log(line);
  };
  std::chrono::milliseconds backoff{100};
  const std::chrono::milliseconds max_backoff{5000};
  std::optional<bool> was_primary;
  bool was_down = false;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    std::string error;
    std::unique_ptr<pqxx::connection> conn = site::try_connect(options_.node, error);
    if (!conn) {
      if (!was_down) log(fmt::format("node {} unreachable: {}", options_.node.name, error));
      was_down = true;
      state_.unreachable(error);
      sleep_for(backoff);
      backoff = std::min(backoff * 2, max_backoff);
      continue;
    }
    state_.set_connections(1);
    try {
      if (auto s = site::client::setting(*conn, "rulekeeper.site"); s && !s->empty()) state_.set_site(*s);
      std::unique_ptr<site::client::GatewayListener> listener;
      for (;;) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (stopping_) return;
        }
        const site::client::GatewayPoll poll = site::client::gateway_poll(*conn, state_.site());
        NodeReport report;
        report.primary = !poll.in_recovery;
        report.replay_lag_seconds = poll.replay_lag_seconds;
        report.heartbeat_age_seconds = poll.heartbeat_age_seconds;
        for (const auto& c : poll.channels)
          report.channels.push_back({c.channel, c.current_epoch, c.held, c.held_epoch});
        // Read first, then say reachable: a set is served only once read.
        state_.reached(report);
        for (const ChannelTarget& t : state_.to_read()) {
          const bool held = t.held && t.held_epoch.has_value();
          const site::client::GatewayRuleSet set =
              site::client::gateway_rules(*conn, t.channel, held ? t.held_epoch : std::nullopt);
          std::vector<RuleRow> rows;
          for (const auto& r : set.rules) rows.push_back({r.rule_key, r.label, r.body_json, r.content_sha256});
          state_.publish(t.channel, set.epoch, held, rows);
        }
        if (was_down || !was_primary || *was_primary != report.primary) {
          log(fmt::format("node {} reachable, {}: {}", options_.node.name, report.primary ? "primary" : "standby",
                          report.primary ? "waiting on LISTEN rulekeeper_activation"
                                         : fmt::format("polling every {} ms", options_.poll_interval.count())));
          was_down = false;
          was_primary = report.primary;
        }
        backoff = std::chrono::milliseconds(100);
        if (report.primary) {
          // A promotion (or a primary from the start): LISTEN from now on.
          if (!listener) listener = site::client::gateway_listen(*conn, [](const std::string&) {});
          site::client::gateway_await(*conn, static_cast<int>(options_.listen_poll.count()));
        } else {
          listener.reset();
          sleep_for(options_.poll_interval);
        }
      }
    } catch (const std::exception& e) {
      log(fmt::format("node {}: {}", options_.node.name, e.what()));
      was_down = true;
      state_.unreachable(e.what());
      conn.reset();
      sleep_for(backoff);
      backoff = std::min(backoff * 2, max_backoff);
    }
  }
}

// --- request helpers ---

std::optional<std::chrono::milliseconds> parse_wait(const std::string& text) {
  std::string digits = text;
  long long scale = 1000;
  if (digits.size() > 2 && digits.compare(digits.size() - 2, 2, "ms") == 0) {
    digits.resize(digits.size() - 2);
    scale = 1;
  } else if (!digits.empty() && digits.back() == 's') {
    digits.pop_back();
  }
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::chrono::milliseconds(std::stoll(digits) * scale);
}

bool valid_pod_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '-';
  });
}

std::optional<std::map<std::string, std::string>> parse_pod_labels(const std::string& text) {
  std::map<std::string, std::string> out;
  if (text.empty()) return out;
  if (text.size() > 1024) return std::nullopt;
  std::size_t at = 0;
  while (at <= text.size()) {
    std::size_t comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    std::string pair = text.substr(at, comma - at);
    const std::size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) return std::nullopt;
    auto trim = [](std::string s) {
      while (!s.empty() && s.front() == ' ') s.erase(s.begin());
      while (!s.empty() && s.back() == ' ') s.pop_back();
      return s;
    };
    const std::string key = trim(pair.substr(0, eq));
    if (key.empty() || !valid_pod_id(key)) return std::nullopt;
    out[key] = trim(pair.substr(eq + 1));
    at = comma + 1;
  }
  return out;
}

}  // namespace rulekeeper::ops::gateway
