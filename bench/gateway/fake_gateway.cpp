// A stand-in for `rulectl gateway` that follows the pod protocol of
// docs/pods.md for one thing only: testing the load client by itself
// (CTest gateway_load_client_selftest) without a cluster. It holds one
// epoch per channel in memory (starting at 1) and serves
//   GET /v1/channels/{channel}/rules[?after=N&wait=..]  (a long poll when after >= epoch)
//   GET /v1/channels/{channel}/events[?after=N]         (SSE)
//   POST /bench/advance?channel=C                        (epoch + 1, wakes everyone)
// on controlplane/http/server, the server the real gateway uses. It knows no
// database: what it measures is the client, never the gateway.
//
// With --follow COMMAND it instead sets prod's epoch to the number COMMAND
// prints, run every 100 ms (e.g. psql -Atc 'SELECT rulekeeper.activation_epoch()'):
// how bench/gateway_bench.sh --fake checks its own steps without rulectl gateway.
//
//   fake_gateway --port P [--follow COMMAND]   (runs until SIGINT/SIGTERM)
#include <signal.h>

#include <atomic>
#include <thread>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/server.hpp"

namespace {

namespace http = rulekeeper::http;

struct Channel {
  long long epoch = 1;
  std::vector<std::shared_ptr<http::Exchange>> polls;
  std::vector<std::shared_ptr<http::Exchange>> streams;
};

std::mutex mutex;
std::map<std::string, Channel> channels{{"sl", {}}, {"prod", {}}};

std::string set_json(const std::string& channel, long long epoch) {
  return "{\"site\":\"fake\",\"node\":\"fake\",\"channel\":\"" + channel + "\",\"epoch\":" + std::to_string(epoch) +
         ",\"held\":false,\"stale_seconds\":null,\"rules\":[]}";
}

http::Response set_response(const std::string& channel, long long epoch) {
  http::Response r;
  r.content_type = "application/json";
  r.body = set_json(channel, epoch);
  r.headers = {{"ETag", "\"" + std::to_string(epoch) + "\""}, {"Rulekeeper-Epoch", std::to_string(epoch)}};
  return r;
}

std::string event(const std::string& channel, long long epoch) {
  return "id: " + std::to_string(epoch) + "\nevent: rules\ndata: " + set_json(channel, epoch) + "\n\n";
}

// The checks every pod request gets: a known channel, a pod header.
Channel* admit(const std::shared_ptr<http::Exchange>& ex, std::string& name) {
  const auto& req = ex->request();
  name = req.params.at("channel");
  if (req.header("Rulekeeper-Pod").empty()) {
    ex->respond(http::Response::text(400, "{\"error\":\"missing Rulekeeper-Pod\"}"));
    return nullptr;
  }
  auto it = channels.find(name);
  if (it == channels.end()) {
    ex->respond(http::Response::text(404, "{\"error\":\"unknown channel\"}"));
    return nullptr;
  }
  return &it->second;
}

// Sets a channel's epoch and wakes its long polls and streams. Under the lock.
void advance(const std::string& name, Channel& c, long long epoch) {
  c.epoch = epoch;
  for (auto& p : c.polls) p->respond(set_response(name, c.epoch));
  c.polls.clear();
  std::vector<std::shared_ptr<http::Exchange>> open;
  for (auto& s : c.streams)
    if (!s->closed()) {
      s->send(event(name, c.epoch));
      open.push_back(s);
    }
  c.streams.swap(open);
}

long long run_command(const std::string& command) {
  FILE* f = popen(command.c_str(), "r");
  if (f == nullptr) return -1;
  char line[64] = {0};
  const bool got = std::fgets(line, sizeof line, f) != nullptr;
  pclose(f);
  return got ? std::atoll(line) : -1;
}

long long after_of(const http::Request& req) {
  std::string a = req.query_param("after");
  if (a.empty()) a = req.header("Last-Event-ID");
  return a.empty() ? -1 : std::atoll(a.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string follow;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--port") port = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--follow") follow = argv[i + 1];
  }
  if (port <= 0 || port > 65535) {
    std::fprintf(stderr, "usage: fake_gateway --port P\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server's thread starts: it inherits the mask

  http::ServerOptions options;
  options.port = static_cast<unsigned short>(port);
  options.server_name = "fake_gateway";
  http::Server server(options);
  server.route("GET", "/v1/channels/{channel}/rules", [](const std::shared_ptr<http::Exchange>& ex) {
    std::lock_guard<std::mutex> lock(mutex);
    std::string name;
    Channel* c = admit(ex, name);
    if (c == nullptr) return;
    const long long after = after_of(ex->request());
    if (after < 0 || c->epoch > after) return ex->respond(set_response(name, c->epoch));
    c->polls.push_back(ex);  // answered by the next advance (no deadline: a test stand-in)
  });
  server.route("GET", "/v1/channels/{channel}/events", [](const std::shared_ptr<http::Exchange>& ex) {
    std::lock_guard<std::mutex> lock(mutex);
    std::string name;
    Channel* c = admit(ex, name);
    if (c == nullptr) return;
    http::Response head;
    head.content_type = "text/event-stream";
    head.headers = {{"Cache-Control", "no-store"}};
    if (c->epoch > after_of(ex->request())) head.body = event(name, c->epoch);
    ex->start_stream(std::move(head));
    c->streams.push_back(ex);
  });
  server.route("POST", "/bench/advance", [](const std::shared_ptr<http::Exchange>& ex) {
    std::lock_guard<std::mutex> lock(mutex);
    std::string name = ex->request().query_param("channel");
    if (name.empty()) name = "prod";
    auto it = channels.find(name);
    if (it == channels.end()) return ex->respond(http::Response::text(404, "unknown channel\n"));
    Channel& c = it->second;
    advance(name, c, c.epoch + 1);
    ex->respond(http::Response::text(200, std::to_string(c.epoch) + "\n"));
  });
  server.get("/healthz", [](const http::Request&) { return http::Response::text(200, "ok\n"); });
  server.start();
  std::atomic<bool> stopping{false};
  std::thread follower;
  if (!follow.empty()) {
    follower = std::thread([&] {
      while (!stopping) {
        const long long e = run_command(follow);
        {
          std::lock_guard<std::mutex> lock(mutex);
          Channel& c = channels.at("prod");
          if (e > c.epoch) advance("prod", c, e);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  std::fprintf(stderr, "fake_gateway: listening on %s\n", server.endpoint().c_str());
  int sig = 0;
  sigwait(&set, &sig);
  stopping = true;
  if (follower.joinable()) follower.join();
  server.stop(std::chrono::milliseconds(500));
  return 0;
}
