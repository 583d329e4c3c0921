// A node's settings files and signal files — what PostgreSQL 15 offers no
// SQL for: whom a standby follows (primary_conninfo, primary_slot_name) and
// whether it starts as a standby (standby.signal). See
// docs/design/postgres-traps.md "Per-node settings": the node's identity
// lives in its own conf file outside PGDATA, because pg_basebackup and
// pg_rewind copy the source's config files into PGDATA.
//
// Every file is replaced durably (common::write_durably: temp, fsync,
// rename, fsync dir) and belongs to the postgres OS user when we are root.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "pgnode/local_node.hpp"

namespace rulekeeper::pgnode {

// 'value' quoted for postgresql.conf (and a SQL string literal).
std::string conf_quote(const std::string& value);

// The file that carries the node's primary_conninfo/primary_slot_name:
// conf_file, else PGDATA/postgresql.auto.conf.
std::filesystem::path settings_file(const LocalNode& node);

// Rewrites `file` without the lines setting any of `names`, then appends
// `add` (name = conf_quote(value)); other lines stay as they are. A file
// that changes keeps its permission bits.
void rewrite_settings(const std::filesystem::path& file, const std::vector<std::string>& names,
                      const std::vector<std::pair<std::string, std::string>>& add);

// Sets primary_conninfo and primary_slot_name in settings_file() (empty
// values: the lines are removed, i.e. no upstream), and removes both from
// PGDATA/postgresql.auto.conf when that is not the settings file (pg_rewind
// copies the source's there).
void set_upstream(const LocalNode& node, const std::string& primary_conninfo, const std::string& primary_slot_name);

// PGDATA/standby.signal (empty, mode 0600).
void write_standby_signal(const std::filesystem::path& pgdata);

}  // namespace rulekeeper::pgnode
