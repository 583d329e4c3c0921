// fork/exec (posix_spawn) with argv vectors, bounded waits, and the root ->
// postgres user switch that PostgreSQL's tools demand.
#include "pgnode/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace rulekeeper::process {
namespace {

// posix_spawn's attribute objects need explicit destruction on every path.
struct SpawnActions {
  posix_spawn_file_actions_t a;
  SpawnActions() { posix_spawn_file_actions_init(&a); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&a); }
};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int open_append(const std::filesystem::path& path, bool give_to_postgres) {
  bool existed = std::filesystem::exists(path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error(fmt::format("cannot open {} for writing: {}", path.string(), std::strerror(errno)));
  // The server later appends to the same node log (pg_ctl -l) as postgres.
  if (!existed && give_to_postgres) chown_to_postgres(path, false);
  return fd;
}

struct Postgres {
  uid_t uid;
  gid_t gid;
};

Postgres postgres_user() {
  struct passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr)
    throw std::runtime_error(
        "running as root, but there is no 'postgres' OS user to run the cluster as "
        "(install postgresql-15, or run as an ordinary user)");
  return {pw->pw_uid, pw->pw_gid};
}

}  // namespace

std::string RunResult::describe() const {
  if (timed_out) return "timed out";
  if (signaled) return fmt::format("killed by signal {}", term_signal);
  return fmt::format("exit {}", exit_code);
}

bool running_as_root() { return ::geteuid() == 0; }

void chown_to_postgres(const std::filesystem::path& path, bool recursive) {
  if (!running_as_root()) return;
  Postgres pg = postgres_user();
  auto one = [&](const std::filesystem::path& p) {
    if (::lchown(p.c_str(), pg.uid, pg.gid) != 0)
      throw std::runtime_error(fmt::format("cannot chown {} to postgres: {}", p.string(), std::strerror(errno)));
  };
  one(path);
  if (recursive && std::filesystem::is_directory(path))
    for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) one(entry.path());
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                              "@%+=:,./-_") == std::string::npos)
    return word;
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string quote_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += shell_quote(a);
  }
  return out;
}

RunResult run(const std::vector<std::string>& argv_in, const RunOptions& options) {
  if (argv_in.empty()) throw std::invalid_argument("process::run: empty argv");
  const bool switch_user = options.as_postgres_if_root && running_as_root();
  std::vector<std::string> argv;
  if (switch_user) {
    postgres_user();  // fail early with a clear message if the user is missing
    argv = {"runuser", "-u", "postgres", "--"};
  }
  argv.insert(argv.end(), argv_in.begin(), argv_in.end());

  Fd out, err;
  if (!options.stdout_file.empty()) out.fd = open_append(options.stdout_file, switch_user);
  if (!options.stderr_file.empty() && options.stderr_file != options.stdout_file)
    err.fd = open_append(options.stderr_file, switch_user);

  SpawnActions actions;
  posix_spawn_file_actions_addopen(&actions.a, 0, "/dev/null", O_RDONLY, 0);
  if (out.fd >= 0)
    posix_spawn_file_actions_adddup2(&actions.a, out.fd, 1);
  else
    posix_spawn_file_actions_addopen(&actions.a, 1, "/dev/null", O_WRONLY, 0);
  if (err.fd >= 0)
    posix_spawn_file_actions_adddup2(&actions.a, err.fd, 2);
  else if (out.fd >= 0)
    posix_spawn_file_actions_adddup2(&actions.a, out.fd, 2);
  else
    posix_spawn_file_actions_addopen(&actions.a, 2, "/dev/null", O_WRONLY, 0);
  // The postgres user cannot necessarily enter our cwd (e.g. /root): tools
  // then warn or fail, so give them a directory they can use.
  std::string cwd = options.cwd.empty() ? std::string(switch_user ? "/" : "") : options.cwd.string();
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions.a, cwd.c_str());

  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  // The child's environment: ours, with options.environment's names replaced.
  std::vector<std::string> env_text;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const auto& extra : options.environment) {
      const auto eq = extra.find('=');
      if (eq != std::string::npos && entry.compare(0, eq + 1, extra, 0, eq + 1) == 0) replaced = true;
    }
    if (!replaced) env_text.push_back(entry);
  }
  env_text.insert(env_text.end(), options.environment.begin(), options.environment.end());
  std::vector<char*> cenv;
  for (auto& e : env_text) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, cargv[0], &actions.a, nullptr, cargv.data(), cenv.data());
  if (rc != 0) throw std::runtime_error(fmt::format("cannot start {}: {}", quote_command(argv), std::strerror(rc)));

  RunResult result;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool term_sent = false;
  std::chrono::steady_clock::time_point kill_at{};
  for (;;) {
    int status = 0;
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        result.signaled = true;
        result.term_signal = WTERMSIG(status);
      }
      return result;
    }
    if (w < 0 && errno != EINTR) throw std::runtime_error(fmt::format("waitpid failed: {}", std::strerror(errno)));
    auto now = std::chrono::steady_clock::now();
    if (!term_sent && now >= deadline) {
      // SIGTERM first: runuser forwards it to its child, SIGKILL would not.
      result.timed_out = true;
      ::kill(pid, SIGTERM);
      term_sent = true;
      kill_at = now + std::chrono::seconds(3);
    } else if (term_sent && now >= kill_at) {
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string tail_of_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::size_t>(in.tellg());
  std::size_t from = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(size - from, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}

}  // namespace rulekeeper::process
