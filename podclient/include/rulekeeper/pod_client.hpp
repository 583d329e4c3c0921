// The pod client of the rulekeeper gateway (issue #18 item 4; the protocol:
// docs/pods.md). A pod links this small library instead of talking SQL to
// its site's node: it fetches its channel's rule set from a gateway, keeps
// the last good set in memory and on disk, follows the gateway's
// Server-Sent Events stream (or long polls where the stream is not
// available), reconnects with exponential backoff, and moves to the next
// gateway URL when one stops answering (IPC1's gateway after a failover) —
// serving the cached set all the while.
//
// Depends on Boost.Beast/Asio and nlohmann::json only (nothing of rulectl).
// Plain http:// gateways (loopback or the site network); see docs/pods.md.
//
// Threads: start() runs one background thread that does all the I/O; the
// callback runs on it. current() and status() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rulekeeper::pod {

struct Rule {
  std::string rule_key;
  std::string label;
  std::string body;  // the rule's body, JSON text as served
  std::string content_sha256;
};

// One channel's rule set as one gateway served it.
struct RuleSet {
  std::string site;
  std::string node;
  std::string channel;
  std::int64_t epoch = 0;
  bool held = false;                    // the operators hold this site's channel (docs/pods.md "Holds")
  std::optional<double> stale_seconds;  // set: the gateway lost its node; the set is its last read
  std::vector<Rule> rules;
  std::string gateway;      // the URL it came from
  bool from_cache = false;  // read from the cache file at start, not (yet) from a gateway
  std::string json;         // the gateway's JSON body, as served (what the cache file holds)

  const Rule* find(const std::string& rule_key) const;
};

// The JSON body of `GET /v1/channels/{channel}/rules` (or an SSE `rules`
// event's data) into a RuleSet; throws ProtocolError when it is not one.
RuleSet parse_rule_set(const std::string& json);

class ProtocolError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class Mode {
  stream,     // Server-Sent Events (/v1/channels/{channel}/events), long polls where refused
  long_poll,  // ?after=N&wait=... only
};

struct Options {
  // Gateway base URLs, in order of preference: "http://127.0.0.1:56240".
  // On failure the client moves to the next one (and wraps around).
  std::vector<std::string> gateways;
  std::string channel = "prod";
  std::string pod_id;                         // 1-128 of [A-Za-z0-9._:-]
  std::map<std::string, std::string> labels;  // Rulekeeper-Pod-Labels: zone=a,app=pricing
  std::string token;                          // bearer token, "" = none
  // Where the last good set is kept (written atomically: temporary file,
  // fsync, rename). "" = no cache. Read at construction: a pod that starts
  // while every gateway is down still has its rules.
  std::filesystem::path cache_file;
  Mode mode = Mode::stream;
  std::chrono::milliseconds long_poll_wait{std::chrono::seconds(30)};  // ≤ 60 s (the gateway's limit)
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};  // a plain GET, whole exchange
  // A stream that sends nothing (not even its 15 s keepalive) this long is
  // taken for dead and reconnected.
  std::chrono::milliseconds stream_idle_timeout{std::chrono::seconds(40)};
  // Reconnection: the first retry after initial_backoff, doubling up to
  // max_backoff, with ±20 % jitter; back to initial after a success.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(10)};
  // A gateway serving a stale set (its node unreachable) this long, while
  // another URL is configured: move on to the next URL.
  std::chrono::milliseconds switch_when_stale_after{std::chrono::seconds(30)};
  // Called on the client's thread with each new set (a different epoch,
  // gateway or content), the cached one at start included.
  std::function<void(const RuleSet&)> on_rules;
  // Called on the client's thread with what happens (connected, failures,
  // switches, fallback): for the pod's log. May be empty.
  std::function<void(const std::string&)> on_event;
};

// Where the client stands (for a pod's health endpoint or logs).
struct Status {
  std::string gateway;     // the URL in use (or being tried)
  bool connected = false;  // a stream is open or a long poll answered lately
  bool streaming = false;  // over SSE (false: long polling)
  std::int64_t epoch = 0;  // of current(); 0 = no set yet
  bool stale = false;      // current() is marked stale by its gateway, or from the cache only
  int consecutive_failures = 0;
  std::int64_t sets_received = 0;  // from gateways
  std::int64_t switches = 0;       // moves to another gateway URL
  std::string last_error;
};

class PodClient {
public:
  // Throws std::invalid_argument for an invalid pod id, channel, URL or an
  // empty gateway list. Loads the cache file when there is one (a corrupt
  // cache is ignored and reported through on_event at start()).
  explicit PodClient(Options options);
  ~PodClient();  // stop()
  PodClient(const PodClient&) = delete;
  PodClient& operator=(const PodClient&) = delete;

  // Starts the background thread (once); the cached set, if any, is handed
  // to on_rules first.
  void start();
  // Stops the thread: closes any open connection at once. Idempotent.
  void stop();

  // The set in use: the last served, or the cached one; nullptr when none.
  std::shared_ptr<const RuleSet> current() const;
  // Waits until a gateway served a set of epoch >= `epoch` and on_rules has
  // run with it (true), or the timeout (false). A cached set does not count.
  bool wait_for_epoch(std::int64_t epoch, std::chrono::milliseconds timeout) const;
  Status status() const;

  struct Impl;

private:
  std::shared_ptr<Impl> impl_;
};

// One plain fetch, no client object: GET {gateway}/v1/channels/{channel}/rules.
// Throws ProtocolError for an HTTP error (with the gateway's "error" text)
// and std::runtime_error when the gateway cannot be reached.
RuleSet fetch_rules(const std::string& gateway, const std::string& channel, const std::string& pod_id,
                    const std::string& token = "", std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Whether `id` is a valid pod id (1-128 chars of [A-Za-z0-9._:-]).
bool valid_pod_id(const std::string& id);

}  // namespace rulekeeper::pod
