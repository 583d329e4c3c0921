// Reading and writing files: every helper once. A file that must survive a
// crash (a hotfix receipt, a node's settings file, the sandbox's config) is
// written with write_durably(): a temporary file beside it, fsync of the
// file, rename over the target, fsync of the directory — so after a crash
// the path holds either the old content or the new, never a torn mix, and
// the rename itself is on disk.
#pragma once

#include <filesystem>
#include <string>

namespace rulekeeper::common {

// The whole file; throws std::runtime_error naming the path if it cannot be read.
std::string read_file(const std::filesystem::path& path);

// Appends text (logs); creates the file if missing. Not durable: logs are
// diagnostics.
void append_file(const std::filesystem::path& path, const std::string& text);

struct DurableWriteOptions {
  unsigned mode = 0644;            // permission bits of the new file
  bool owned_by_postgres = false;  // chown to the postgres OS user when root
};

// Atomic and durable replacement of `path` with `text` (see above). Throws
// std::runtime_error naming the path and the failing step; on failure the
// temporary file is removed and `path` is unchanged.
void write_durably(const std::filesystem::path& path, const std::string& text, const DurableWriteOptions& options = {});

}  // namespace rulekeeper::common
