// See gateway_http.hpp. Every pod request is checked in the same order:
// the bearer token (401), the pod's name and labels (400), whether the node
// was ever read (503: nothing read, nothing served), the channel (404 with
// the list), then the answer.
#include "ops/gateway_http.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "http/prometheus.hpp"

namespace rulekeeper::ops::gateway {
namespace {

http::Response json_response(int status, const nlohmann::json& body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

http::Response error(int status, const std::string& what, const std::string& hint) {
  return json_response(status, {{"error", what}, {"hint", hint}});
}

// Constant time in the token's length: a wrong token's prefix is not timed.
bool same_token(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

std::optional<http::Response> check_token(const http::Request& req, const HttpOptions& o) {
  if (o.token.empty()) return std::nullopt;
  const std::string auth = req.header("Authorization");
  const std::string prefix = "Bearer ";
  if (auth.size() > prefix.size() && auth.compare(0, prefix.size(), prefix) == 0 &&
      same_token(auth.substr(prefix.size()), o.token))
    return std::nullopt;
  http::Response r = error(401, auth.empty() ? "a bearer token is required" : "the bearer token is wrong",
                           "send `Authorization: Bearer <token>` with the token of this gateway's configuration");
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"rulekeeper-gateway\"");
  return r;
}

// The pod a request names, or the 400 answer.
std::variant<PodInfo, http::Response> check_pod(const http::Request& req, const std::string& channel) {
  PodInfo p;
  p.pod = req.header("Rulekeeper-Pod");
  p.channel = channel;
  p.remote = req.remote;
  if (p.pod.empty())
    return error(400, "the Rulekeeper-Pod header is missing",
                 "every pod request names its pod: `Rulekeeper-Pod: <id>` (1-128 of A-Z a-z 0-9 . _ : -)");
  if (!valid_pod_id(p.pod))
    return error(400, "the Rulekeeper-Pod header is not a pod id",
                 "1-128 characters of A-Z a-z 0-9 . _ : - (e.g. the pod's name)");
  const std::string label_text = req.header("Rulekeeper-Pod-Labels");
  p.labels_given = !label_text.empty();
  const auto labels = parse_pod_labels(label_text);
  if (!labels)
    return error(400, "the Rulekeeper-Pod-Labels header is malformed",
                 "comma-separated key=value pairs, keys of A-Z a-z 0-9 . _ : - (e.g. zone=a,app=pricing)");
  p.labels = *labels;
  return p;
}

// The Lookup's refusals: nothing read yet (503), an unknown channel (404).
std::optional<http::Response> check_channel(const Lookup& l, const std::string& channel, const GatewayState& state) {
  if (!l.loaded)
    return error(503, fmt::format("the gateway has not read its node {} yet", state.node()),
                 "it serves only what it read from its node; retry shortly (GET /healthz says why)");
  if (!l.known_channel) {
    std::string list;
    for (std::size_t i = 0; i < l.channels.size(); ++i)
      list += (i == 0 ? "" : (i + 1 == l.channels.size() ? " and " : ", ")) + l.channels[i];
    nlohmann::json body = {{"error", fmt::format("unknown channel \"{}\"; the channels are {}", channel, list)},
                           {"hint", "ask for one of the channels listed"},
                           {"channels", l.channels}};
    return json_response(404, body);
  }
  if (!l.set)
    return error(503, fmt::format("the gateway has not read channel {} from its node yet", channel),
                 "retry shortly (GET /healthz says why)");
  return std::nullopt;
}

void set_headers(http::Response& r, const ServedSet& set, const std::optional<double>& stale) {
  r.headers.emplace_back("ETag", fmt::format("\"{}\"", set.epoch));
  r.headers.emplace_back("Rulekeeper-Epoch", std::to_string(set.epoch));
  r.headers.emplace_back("Cache-Control", "no-cache");
  if (stale) r.headers.emplace_back("Rulekeeper-Stale-Seconds", nlohmann::json(*stale).dump());
}

http::Response set_response(const ServedSet& set, const std::optional<double>& stale) {
  http::Response r;
  r.status = 200;
  r.content_type = "application/json";
  r.body = set.body(stale);
  set_headers(r, set, stale);
  return r;
}

http::Response not_modified(const ServedSet& set, const std::optional<double>& stale) {
  http::Response r;
  r.status = 304;
  r.content_type = "application/json";
  set_headers(r, set, stale);
  return r;
}

std::optional<long long> parse_epoch(const std::string& text) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(text);
}

// A long poll waiting: answered once, by the new set, the deadline or the
// connection's end, whichever comes first.
struct Pending {
  std::mutex mu;
  bool done = false;
  std::uint64_t wait_id = 0;
  std::uint64_t timer_id = 0;
  // True for the one caller that ends it.
  bool finish() {
    std::lock_guard<std::mutex> lock(mu);
    if (done) return false;
    done = true;
    return true;
  }
};

struct Stream {
  std::mutex mu;
  long long last_sent = -1;
  bool closed = false;
  std::uint64_t sub_id = 0;
  std::uint64_t timer_id = 0;
};

std::string sse_event(const ServedSet& set, const std::optional<double>& stale) {
  return fmt::format("id: {}\nevent: rules\ndata: {}\n\n", set.epoch, set.body(stale));
}

void rules_handler(GatewayState& state, Timers& timers, const HttpOptions& o,
                   const std::shared_ptr<http::Exchange>& ex) {
  const http::Request& req = ex->request();
  if (auto r = check_token(req, o)) return ex->respond(*r);
  const std::string channel = req.params.at("channel");
  auto pod_or = check_pod(req, channel);
  if (auto* r = std::get_if<http::Response>(&pod_or)) return ex->respond(*r);
  const PodInfo pod = std::get<PodInfo>(pod_or);
  const Lookup l = state.lookup(channel);
  if (auto r = check_channel(l, channel, state)) return ex->respond(*r);
  state.pod_seen(pod);

  const std::string after_text = req.query_param("after");
  if (after_text.empty()) {
    state.pod_served(pod.pod, l.set->epoch);
    if (req.header("If-None-Match") == fmt::format("\"{}\"", l.set->epoch))
      return ex->respond(not_modified(*l.set, l.stale_seconds));
    return ex->respond(set_response(*l.set, l.stale_seconds));
  }
  const auto after = parse_epoch(after_text);
  if (!after)
    return ex->respond(error(400, "after must be an epoch (a non-negative integer)", "e.g. ?after=42&wait=30s"));
  std::chrono::milliseconds wait = o.default_wait;
  if (const std::string w = req.query_param("wait"); !w.empty()) {
    const auto parsed = parse_wait(w);
    if (!parsed || *parsed > o.max_wait)
      return ex->respond(error(400, fmt::format("wait must be a duration of at most {} s", o.max_wait.count() / 1000),
                               "e.g. wait=30s or wait=500ms"));
    wait = *parsed;
  }
  if (l.set->epoch > *after || wait.count() == 0) {
    if (l.set->epoch > *after) state.pod_served(pod.pod, l.set->epoch);
    return ex->respond(l.set->epoch > *after ? set_response(*l.set, l.stale_seconds)
                                             : not_modified(*l.set, l.stale_seconds));
  }

  auto pending = std::make_shared<Pending>();
  state.pod_open(pod.pod, +1);
  const std::string pod_id = pod.pod;
  auto timer = timers.at(SteadyClock::now() + wait, [&state, pending, ex, channel, pod_id] {
    if (!pending->finish()) return;
    std::uint64_t id;
    {
      std::lock_guard<std::mutex> lock(pending->mu);
      id = pending->wait_id;
    }
    state.cancel(id);
    state.pod_open(pod_id, -1);
    const Lookup now = state.lookup(channel);
    if (now.set)
      ex->respond(not_modified(*now.set, now.stale_seconds));
    else
      ex->respond(error(503, "the channel is no longer served", "retry"));
  });
  {
    std::lock_guard<std::mutex> lock(pending->mu);
    pending->timer_id = timer;
  }
  auto deliver = [&state, &timers, pending, ex, channel, pod_id](std::shared_ptr<const ServedSet> set) {
    if (!pending->finish()) return;
    std::uint64_t tid;
    {
      std::lock_guard<std::mutex> lock(pending->mu);
      tid = pending->timer_id;
    }
    timers.cancel(tid);
    state.pod_open(pod_id, -1);
    state.pod_served(pod_id, set->epoch);
    state.count_notification(channel);
    ex->respond(set_response(*set, state.stale_seconds()));
  };
  const std::uint64_t id = state.wait(channel, *after, deliver);
  if (id == 0) {
    // The set passed `after` between the lookup and the wait.
    const Lookup now = state.lookup(channel);
    if (now.set) return deliver(now.set);
  }
  bool cancel_now = false;
  {
    std::lock_guard<std::mutex> lock(pending->mu);
    pending->wait_id = id;
    cancel_now = pending->done;
  }
  if (cancel_now) state.cancel(id);
  ex->on_close([&state, &timers, pending, pod_id] {
    if (!pending->finish()) return;
    std::lock_guard<std::mutex> lock(pending->mu);
    state.cancel(pending->wait_id);
    timers.cancel(pending->timer_id);
    state.pod_open(pod_id, -1);
  });
}

void arm_keepalive(Timers& timers, const HttpOptions& o, const std::shared_ptr<Stream>& s,
                   const std::shared_ptr<http::Exchange>& ex) {
  const std::uint64_t id = timers.at(SteadyClock::now() + o.keepalive, [&timers, &o, s, ex] {
    {
      std::lock_guard<std::mutex> lock(s->mu);
      if (s->closed) return;
      ex->send(": keepalive\n\n");
    }
    arm_keepalive(timers, o, s, ex);
  });
  std::lock_guard<std::mutex> lock(s->mu);
  s->timer_id = id;
}

void events_handler(GatewayState& state, Timers& timers, const HttpOptions& o,
                    const std::shared_ptr<http::Exchange>& ex) {
  const http::Request& req = ex->request();
  if (auto r = check_token(req, o)) return ex->respond(*r);
  const std::string channel = req.params.at("channel");
  auto pod_or = check_pod(req, channel);
  if (auto* r = std::get_if<http::Response>(&pod_or)) return ex->respond(*r);
  const PodInfo pod = std::get<PodInfo>(pod_or);
  const Lookup l = state.lookup(channel);
  if (auto r = check_channel(l, channel, state)) return ex->respond(*r);
  std::string after_text = req.query_param("after");
  if (after_text.empty()) after_text = req.header("Last-Event-ID");
  long long after = -1;
  if (!after_text.empty()) {
    const auto parsed = parse_epoch(after_text);
    if (!parsed)
      return ex->respond(
          error(400, "after (or Last-Event-ID) must be an epoch (a non-negative integer)", "e.g. ?after=42"));
    after = *parsed;
  }
  state.pod_seen(pod);
  state.pod_open(pod.pod, +1);

  http::Response head;
  head.status = 200;
  head.content_type = "text/event-stream";
  head.headers.emplace_back("Cache-Control", "no-cache");
  head.headers.emplace_back("X-Accel-Buffering", "no");
  ex->start_stream(head);

  auto s = std::make_shared<Stream>();
  s->last_sent = after;
  const std::string pod_id = pod.pod;
  // Subscribed before the current set is sent: nothing published in between
  // is missed; last_sent drops what would come twice.
  const std::uint64_t sub =
      state.subscribe(channel, [&state, s, ex, channel, pod_id](std::shared_ptr<const ServedSet> set) {
        std::lock_guard<std::mutex> lock(s->mu);
        if (s->closed) return;
        if (!set) {
          const auto stale = state.stale_seconds();
          ex->send(
              fmt::format("event: stale\ndata: {}\n\n", nlohmann::json{{"stale_seconds", stale.value_or(0.0)}}.dump()));
          return;
        }
        if (set->epoch <= s->last_sent) return;
        s->last_sent = set->epoch;
        ex->send(sse_event(*set, state.stale_seconds()));
        state.pod_served(pod_id, set->epoch);
        state.count_notification(channel);
      });
  {
    std::lock_guard<std::mutex> lock(s->mu);
    s->sub_id = sub;
    if (l.set->epoch > s->last_sent) {
      s->last_sent = l.set->epoch;
      ex->send(sse_event(*l.set, l.stale_seconds));
      state.pod_served(pod_id, l.set->epoch);
    } else {
      ex->send(": waiting for a set newer than " + std::to_string(after) + "\n\n");
    }
  }
  arm_keepalive(timers, o, s, ex);
  ex->on_close([&state, &timers, s, pod_id] {
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->closed) return;
    s->closed = true;
    state.cancel(s->sub_id);
    timers.cancel(s->timer_id);
    state.pod_open(pod_id, -1);
  });
}

}  // namespace

void add_routes(http::Server& server, GatewayState& state, Timers& timers, const HttpOptions& options) {
  // The options live as long as the routes (the server copies the handlers).
  auto o = std::make_shared<const HttpOptions>(options);
  server.route("GET", "/v1/channels/{channel}/rules", [&state, &timers, o](const std::shared_ptr<http::Exchange>& ex) {
    rules_handler(state, timers, *o, ex);
  });
  server.route("GET", "/v1/channels/{channel}/events", [&state, &timers, o](const std::shared_ptr<http::Exchange>& ex) {
    events_handler(state, timers, *o, ex);
  });
  server.get("/v1/pods", [&state, o](const http::Request& req) {
    if (auto r = check_token(req, *o)) return *r;
    return json_response(200, state.pods_json(std::chrono::system_clock::now()));
  });
  server.get("/healthz", [&state](const http::Request&) {
    const auto [healthy, body] = state.health();
    return json_response(healthy ? 200 : 503, body);
  });
  server.get("/metrics", [&state](const http::Request&) {
    http::Response r;
    r.content_type = http::MetricsText::kContentType;
    r.body = state.metrics_text();
    return r;
  });
}

}  // namespace rulekeeper::ops::gateway
