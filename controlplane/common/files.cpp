#include "common/files.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace fs = std::filesystem;

namespace rulekeeper::common {
namespace {

[[noreturn]] void fail(const std::string& step, const fs::path& path, int err) {
  throw std::runtime_error(fmt::format("cannot {} {}: {}", step, path.string(), std::strerror(err)));
}

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void write_all(int fd, const std::string& text, const fs::path& path) {
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", path, errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error(fmt::format("cannot read {}", path.string()));
  return ss.str();
}

void append_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

void write_durably(const fs::path& path, const std::string& text, const DurableWriteOptions& options) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const fs::path temp = dir / fmt::format(".{}.tmp-{}", path.filename().string(), ::getpid());
  try {
    {
      Fd f;
      f.fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, options.mode);
      if (f.fd < 0) fail("create", temp, errno);
      if (::fchmod(f.fd, options.mode) != 0) fail("chmod", temp, errno);
      if (options.owned_by_postgres && ::geteuid() == 0) {
        if (const passwd* pw = ::getpwnam("postgres"))
          if (::fchown(f.fd, pw->pw_uid, pw->pw_gid) != 0) fail("chown", temp, errno);
      }
      write_all(f.fd, text, temp);
      if (::fsync(f.fd) != 0) fail("fsync", temp, errno);
      if (::close(f.fd) != 0) {
        f.fd = -1;
        fail("close", temp, errno);
      }
      f.fd = -1;
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) fail("rename into place", path, errno);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
  Fd d;
  d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd < 0) fail("open directory", dir, errno);
  if (::fsync(d.fd) != 0) fail("fsync directory", dir, errno);
}

}  // namespace rulekeeper::common
