// The example pod of docs/pods.md: follows one channel through one or more
// gateways with the pod client and prints a line for each rule set it gets
// (stdout) and what the client does (stderr, with --verbose).
//
//   rulekeeper-pod-example --gateway http://127.0.0.1:54321 --pod pricing-7
//       [--gateway URL ...] [--channel prod] [--cache FILE] [--label zone=a]
//       [--token T] [--long-poll] [--once] [--until-epoch N] [--seconds S] [--verbose]
//
// --once: one fetch, the JSON printed, exit. --until-epoch N: exit 0 once a
// gateway served epoch >= N, 1 when --seconds (default 60) pass first.
// Otherwise it runs until --seconds pass (0: until killed).
#include <rulekeeper/pod_client.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

namespace {

volatile std::sig_atomic_t interrupted = 0;

void usage() {
  std::cerr << "usage: rulekeeper-pod-example --gateway URL [--gateway URL ...] --pod ID [--channel prod]\n"
               "         [--cache FILE] [--label k=v ...] [--token T] [--long-poll] [--once]\n"
               "         [--until-epoch N] [--seconds S] [--verbose]\n";
}

std::string describe(const rulekeeper::pod::RuleSet& s) {
  std::string out = "epoch=" + std::to_string(s.epoch) + " site=" + s.site + " channel=" + s.channel +
                    (s.held ? " held" : "") + (s.stale_seconds ? " stale" : "") + (s.from_cache ? " from=cache" : "") +
                    (s.gateway.empty() ? "" : " gateway=" + s.gateway) + " rules=";
  bool first = true;
  for (const auto& r : s.rules) {
    out += (first ? "" : ",") + r.rule_key + "@" + r.label;
    first = false;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  rulekeeper::pod::Options o;
  bool once = false, verbose = false;
  long long until_epoch = -1;
  double seconds = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--gateway") {
      o.gateways.push_back(value());
    } else if (a == "--pod") {
      o.pod_id = value();
    } else if (a == "--channel") {
      o.channel = value();
    } else if (a == "--cache") {
      o.cache_file = value();
    } else if (a == "--token") {
      o.token = value();
    } else if (a == "--label") {
      const std::string kv = value();
      const auto eq = kv.find('=');
      if (eq == std::string::npos) {
        usage();
        return 2;
      }
      o.labels[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (a == "--long-poll") {
      o.mode = rulekeeper::pod::Mode::long_poll;
    } else if (a == "--once") {
      once = true;
    } else if (a == "--until-epoch") {
      until_epoch = std::stoll(value());
    } else if (a == "--seconds") {
      seconds = std::stod(value());
    } else if (a == "--verbose") {
      verbose = true;
    } else {
      usage();
      return 2;
    }
  }
  if (o.gateways.empty() || o.pod_id.empty()) {
    usage();
    return 2;
  }
  try {
    if (once) {
      const auto s = rulekeeper::pod::fetch_rules(o.gateways.front(), o.channel, o.pod_id, o.token);
      std::cout << s.json << "\n";
      return 0;
    }
    o.on_rules = [](const rulekeeper::pod::RuleSet& s) { std::cout << describe(s) << std::endl; };
    if (verbose) o.on_event = [](const std::string& what) { std::cerr << "pod: " << what << std::endl; };
    rulekeeper::pod::PodClient client(o);
    std::signal(SIGINT, [](int) { interrupted = 1; });
    std::signal(SIGTERM, [](int) { interrupted = 1; });
    client.start();
    if (seconds < 0) seconds = until_epoch >= 0 ? 60 : 0;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    while (interrupted == 0) {
      if (until_epoch >= 0 && client.wait_for_epoch(until_epoch, std::chrono::milliseconds(100))) return 0;
      if (until_epoch < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (seconds > 0 && std::chrono::steady_clock::now() >= deadline) break;
    }
    return until_epoch >= 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "rulekeeper-pod-example: " << e.what() << "\n";
    return 1;
  }
}
