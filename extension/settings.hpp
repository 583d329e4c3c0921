// The extension's settings (GUCs) and the checks that writes make against
// them. rulekeeper.site and rulekeeper.environment are PGC_SIGHUP: set per
// node in a file pg_basebackup and pg_rewind do not copy, never in a table
// (a physical standby is a byte copy of its primary), never by a session.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace rulekeeper::pg {

void define_settings();

const char* site_setting();         // "" while unset
const char* environment_setting();  // "" while unset
const char* database_setting();
int heartbeat_interval_ms();
int max_body_bytes_setting();            // rulekeeper.max_body_bytes
const char* signing_key_file_setting();  // rulekeeper.signing_key_file, "" while unset

// For a write: the site name, or ERROR naming the unset setting and where to
// set it. `action` says what was attempted ("create_version").
const char* require_site(const char* action);
// ERROR unless rulekeeper.environment is set and equals `environment`
// (e.g. authoring only at e1). Also requires the site.
void require_environment(const char* environment, const char* action);
// ERROR when this node is in recovery (a standby), naming the site.
void require_writable_node(const char* action);

}  // namespace rulekeeper::pg
