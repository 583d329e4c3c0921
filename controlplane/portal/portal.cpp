// See portal.hpp. The handlers: authentication and CSRF first (wrap()),
// then one function per page building the JSON twin (`doc`, what ops
// reports) and the view the template shows (`view`, the same data with
// links and CSS classes added).
#include "portal/portal.hpp"

#include <functional>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/output.hpp"
#include "common/text.hpp"
#include "http/server.hpp"
#include "ops/at_risk.hpp"
#include "ops/channels.hpp"
#include "ops/compare.hpp"
#include "ops/diff.hpp"
#include "ops/hotfix.hpp"
#include "ops/notification_status.hpp"
#include "ops/notify.hpp"
#include "ops/pods.hpp"
#include "ops/reconcile.hpp"
#include "ops/rules.hpp"
#include "ops/status.hpp"
#include "portal/assets.hpp"
#include "portal/render.hpp"
#include "portal/sessions.hpp"
#include "site/connect.hpp"
#include "site/probe.hpp"
#include "site/topology.hpp"

namespace rulekeeper::portal {

using nlohmann::json;

namespace {

constexpr const char* kCookie = "rulekeeper_session";

// What a handler produces: the page (template + view) and its JSON twin.
struct Page {
  int status = 200;
  std::string title;
  std::string tmpl;  // "" : a page with only the notice (refusal/done)
  json view = json::object();
  json doc = json::object();
  json refusal;  // {message, hint, sqlstate, exit_code, error}
  json done;     // {summary, lines}
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Ctx {
  const http::Request& req;
  std::shared_ptr<const Session> session;
  Form form;
  const config::Config& config() const { return session->config; }
};

bool wants_json(const http::Request& req) { return req.header("Accept").find("application/json") != std::string::npos; }

std::string cookie(const http::Request& req, const std::string& name) {
  const std::string all = req.header("Cookie");
  std::size_t at = 0;
  while (at < all.size()) {
    std::size_t end = all.find(';', at);
    if (end == std::string::npos) end = all.size();
    std::string pair = all.substr(at, end - at);
    const auto first = pair.find_first_not_of(' ');
    pair = first == std::string::npos ? "" : pair.substr(first);
    const auto eq = pair.find('=');
    if (eq != std::string::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    at = end + 1;
  }
  return {};
}

const char* kind_of(common::ExitCode code) {
  switch (code) {
    case common::exit_ok: return "ok";
    case common::exit_usage: return "usage";
    case common::exit_refused: return "refused";
    case common::exit_unreachable: return "unreachable";
    case common::exit_failed: break;
  }
  return "failed";
}

int http_status(common::ExitCode code) {
  switch (code) {
    case common::exit_usage: return 400;
    case common::exit_refused: return 403;
    case common::exit_unreachable: return 503;
    default: return 500;
  }
}

// The CLI's error document (cli/error_report.hpp): the same words.
json refusal_of(const common::ExitError& e) {
  auto optional = [](const std::string& s) { return s.empty() ? json() : json(s); };
  return {{"error", kind_of(e.code())},
          {"exit_code", static_cast<int>(e.code())},
          {"message", common::one_line(e.what())},
          {"hint", optional(common::one_line(e.hint()))},
          {"sqlstate", optional(e.sqlstate())}};
}

json refusal(common::ExitCode code, const std::string& message, const std::string& hint) {
  return refusal_of(common::ExitError(code, message, "", hint));
}

Page error_page(const json& r, int status) {
  Page p;
  p.status = status;
  p.title = status == 403 ? "Refused" : status == 503 ? "A site did not answer" : "Error";
  p.refusal = r;
  p.doc = r;
  return p;
}

http::Response html_response(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(body);
  return r;
}

http::Response json_response(int status, const json& doc) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

json opt(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

std::vector<std::string> e3_sites(const config::Config& config) {
  std::vector<std::string> out;
  for (const auto& s : config.sites)
    if (s.environment == "e3") out.push_back(s.name);
  return out;
}

// Reads at the E3 primary, else (primary down or unknown) at each other E3
// site in turn: a page still shows what a standby holds.
template <class Fn>
auto read_any(const config::Config& config, Fn fn) -> decltype(fn(std::string())) {
  try {
    return fn(std::string(site::kE3Primary));
  } catch (const common::ExitError& e) {
    if (e.code() != common::exit_unreachable && e.code() != common::exit_refused) throw;
    for (const auto& name : e3_sites(config)) {
      try {
        return fn(name);
      } catch (const common::ExitError&) {
      }
    }
    throw;
  }
}

json gate_view(const json& gate) {
  json out = json::array();
  if (!gate.is_array()) return out;
  for (const auto& g : gate) {
    json v = g;
    v["ack"] = g.contains("ack") ? g["ack"] : g.value("label", json(""));
    v["rows"] = diff_rows(g.value("diff", json::array()));
    v["classification"] = g.value("classification", json(nullptr));
    out.push_back(v);
  }
  return out;
}

}  // namespace

struct Portal::Impl {
  config::Config config;
  PortalOptions options;
  SessionStore sessions;
  std::unique_ptr<http::Server> server;
  bool tls = false;

  Impl(config::Config c, PortalOptions o)
      : config(std::move(c)), options(std::move(o)), sessions(options.session_idle) {}

  std::string session_cookie(const std::string& id, bool clear) const {
    return fmt::format("{}={}; HttpOnly; SameSite=Strict; Path=/{}{}", kCookie, clear ? "" : id,
                       clear ? "; Max-Age=0" : "", tls ? "; Secure" : "");
  }

  http::Response respond(const Ctx* ctx, const http::Request& req, Page p) {
    http::Response r;
    if (wants_json(req)) {
      json doc = p.doc;
      if (doc.is_object() && !p.done.is_null() && !doc.contains("done")) doc["done"] = p.done;
      r = json_response(p.status, doc);
    } else {
      json layout = {{"title", p.title}, {"refusal", p.refusal}, {"done", p.done}};
      if (ctx && ctx->session) {
        layout["user"] = ctx->session->user;
        layout["csrf_token"] = ctx->session->csrf_token;
      }
      if (!p.view.is_object()) p.view = json::object();
      if (ctx && ctx->session) p.view["csrf_token"] = ctx->session->csrf_token;
      r = html_response(p.status, render_page(p.tmpl.empty() ? "notice.mustache" : p.tmpl, p.view, layout));
    }
    for (auto& h : p.headers) r.headers.push_back(std::move(h));
    r.headers.emplace_back("Cache-Control", "no-store");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; script-src 'self'; style-src 'self'; form-action 'self'; "
                           "frame-ancestors 'none'");
    return r;
  }

  using PageFn = std::function<Page(Ctx&)>;

  // Session, CSRF and errors around a page: `post` pages change something
  // and need the session's CSRF token.
  http::SimpleHandler wrap(bool post, PageFn fn) {
    return [this, post, fn](const http::Request& req) -> http::Response {
      Ctx ctx{req, nullptr, {}};
      try {
        if (post) ctx.form = parse_form(req.body);
        SessionStore::Found found;
        ctx.session = sessions.find(cookie(req, kCookie), found);
        if (!ctx.session) {
          if (post)
            return respond(nullptr, req,
                           error_page(refusal(common::exit_refused,
                                              found == SessionStore::Found::expired
                                                  ? "your session expired: nothing was changed"
                                                  : "not logged in: nothing was changed",
                                              "log in again and send the form from the page it is on"),
                                      403));
          if (found == SessionStore::Found::expired) return expired(req);
          if (wants_json(req))
            return json_response(401,
                                 refusal(common::exit_refused, "not logged in", "POST /login with user and password"));
          http::Response r = html_response(303, "");
          r.headers.emplace_back("Location", "/login");
          return r;
        }
        if (post && !same_token(form_value(ctx.form, "csrf_token"), ctx.session->csrf_token))
          return respond(&ctx, req,
                         error_page(refusal(common::exit_refused,
                                            "the form's csrf_token is missing or wrong: nothing was changed",
                                            "reload the page and send the form again (a form is good for the "
                                            "session that showed it)"),
                                    403));
        return respond(&ctx, req, fn(ctx));
      } catch (const common::ExitError& e) {
        return respond(&ctx, req, error_page(refusal_of(e), http_status(e.code())));
      } catch (const config::ConfigError& e) {
        return respond(&ctx, req, error_page(refusal(common::exit_usage, e.what(), ""), 400));
      } catch (const pqxx::broken_connection& e) {
        return respond(&ctx, req,
                       error_page(refusal(common::exit_unreachable,
                                          "a site's connection broke: " + common::one_line(e.what()),
                                          "rulectl status shows which site is down"),
                                  503));
      } catch (const std::exception& e) {
        return respond(&ctx, req, error_page(refusal(common::exit_failed, common::one_line(e.what()), ""), 500));
      }
    };
  }

  http::Response expired(const http::Request& req) {
    const auto minutes = std::chrono::duration<double>(sessions.idle_timeout()).count() / 60;
    Page p = login_page(nullptr);
    p.status = 401;
    p.refusal = refusal(common::exit_refused, fmt::format("your session expired after {:g} minute(s) idle", minutes),
                        "log in again");
    p.doc = p.refusal;
    p.headers.emplace_back("Set-Cookie", session_cookie("", true));
    return respond(nullptr, req, p);
  }

  // ---- login, logout ---------------------------------------------------------

  Page login_page(const std::string* user) {
    Page p;
    p.title = "Log in";
    p.tmpl = "login.mustache";
    p.view = {{"user", user ? *user : std::string()}};
    p.doc = {{"login", "POST /login with the fields user and password"}};
    return p;
  }

  http::Response login_get(const http::Request& req) { return respond(nullptr, req, login_page(nullptr)); }

  http::Response login_post(const http::Request& req) {
    try {
      const Form form = parse_form(req.body);
      const std::string user = form_value(form, "user"), password = form_value(form, "password");
      Page p = login_page(&user);
      if (user.empty()) {
        p.status = 400;
        p.refusal = refusal(common::exit_usage, "give a PostgreSQL user name", "");
        p.doc = p.refusal;
        return respond(nullptr, req, p);
      }
      config::Config as_user = with_credentials(config, user, password);
      // The login is PostgreSQL's: good when an E3 site (or, without E3
      // sites, any site) accepts these credentials.
      std::vector<std::string> names = e3_sites(as_user);
      if (names.empty())
        for (const auto& s : as_user.sites) names.push_back(s.name);
      std::string refused_msg, down_msg;
      bool ok = false;
      for (const auto& name : names) {
        site::ConnectFailure failure;
        if (auto conn = site::try_connect(site::find_site(as_user, name), failure)) {
          ok = true;
          break;
        }
        std::string& m = failure.refused() ? refused_msg : down_msg;
        m += (m.empty() ? "" : "; ") + name + ": " + common::one_line(failure.message);
      }
      if (!ok) {
        p.status = refused_msg.empty() ? 503 : 401;
        p.refusal = refused_msg.empty()
                        ? refusal(common::exit_unreachable, "no site answered the login (" + down_msg + ")",
                                  "rulectl status shows which sites are down")
                        : refusal(common::exit_refused,
                                  fmt::format("PostgreSQL refused the login of {} ({})", user, refused_msg),
                                  "check the user name and password: the portal logs in to each site as this "
                                  "PostgreSQL user");
        p.doc = p.refusal;
        return respond(nullptr, req, p);
      }
      auto s = sessions.create(user, std::move(as_user));
      if (wants_json(req)) {
        http::Response r = json_response(200, {{"user", s->user}, {"csrf_token", s->csrf_token}});
        r.headers.emplace_back("Set-Cookie", session_cookie(s->id, false));
        return r;
      }
      http::Response r = html_response(303, "");
      r.headers.emplace_back("Set-Cookie", session_cookie(s->id, false));
      r.headers.emplace_back("Location", "/");
      return r;
    } catch (const std::exception& e) {
      return respond(nullptr, req, error_page(refusal(common::exit_usage, common::one_line(e.what()), ""), 400));
    }
  }

  Page logout(Ctx& ctx) {
    sessions.remove(ctx.session->id);
    Page p = login_page(nullptr);
    p.done = {{"summary", "logged out"}};
    p.doc = {{"logged_out", true}};
    p.headers.emplace_back("Set-Cookie", session_cookie("", true));
    ctx.session = nullptr;
    return p;
  }

  // ---- overview ----------------------------------------------------------------

  Page overview(Ctx& ctx) {
    const config::Config& cfg = ctx.config();
    const ops::StatusReport st = ops::status(cfg);
    json doc = st.to_json();
    json view;
    view["sites"] = json::array();
    for (const auto& s : doc["sites"]) {
      json v = s;
      v["down"] = !s.value("reachable", false) && !s.value("refused_by_server", false);
      v["login_refused"] = s.value("refused_by_server", false);
      view["sites"].push_back(v);
    }
    const json& rep = doc["replication"];
    view["replication"] = rep.is_null() ? json(false) : rep;
    if (rep.is_object()) {
      view["primary"] = rep.value("primary", json(nullptr));
      view["split_brain"] = rep.value("split_brain", false);
      json standbys = json::array();
      for (const auto& s : rep.value("standbys", json::array())) standbys.push_back(s);
      view["standbys"] = standbys;
    }
    // What a failover now would lose, per standby (ops/at_risk.hpp).
    json at_risk = json::array();
    long long at_risk_total = 0;
    try {
      for (const auto& r : ops::at_risk_requests(cfg, {})) {
        try {
          const ops::AtRiskReport a = ops::at_risk(cfg, r);
          at_risk.push_back({{"primary", a.primary},
                             {"standby", a.standby},
                             {"not_received", a.not_received()},
                             {"received_not_replayed", a.received_not_replayed()},
                             {"exact", a.method == ops::AtRiskMethod::version_vector}});
          at_risk_total += static_cast<long long>(a.not_received());
        } catch (const common::ExitError& e) {
          at_risk.push_back({{"standby", r.standby}, {"error", common::one_line(e.what())}});
        }
      }
    } catch (const common::ExitError& e) {
      view["at_risk_error"] = common::one_line(e.what());
    }
    doc["at_risk"] = at_risk;
    view["at_risk"] = at_risk;
    view["at_risk_total"] = at_risk_total;
    doc["at_risk_total"] = at_risk_total;
    // Changes at E3 since the last release: the hotfixes made since.
    try {
      const ops::HotfixList since = ops::list_hotfixes(cfg, site::kE3Primary, true);
      doc["since_last_release"] = {{"last_release_at", opt(since.last_release_at)},
                                   {"hotfixes", since.hotfixes.size()}};
    } catch (const common::ExitError& e) {
      doc["since_last_release"] = {{"error", common::one_line(e.what())}};
    }
    view["since_last_release"] = doc["since_last_release"];
    {
      std::vector<std::string> notes;
      json held = json::array();
      for (const auto& c : ops::notification_status(st.sites, notes))
        if (c.value("held", false)) held.push_back(c);
      doc["held_notifications"] = held;
      view["held_notifications"] = held;
    }
    view["open_conflicts"] = doc["open_conflicts"];
    view["warnings"] = doc["warnings"];
    view["has_warnings"] = !doc["warnings"].empty();
    view["configuration_errors"] = doc["configuration_errors"];
    Page p;
    p.title = "Overview";
    p.tmpl = "overview.mustache";
    p.view = view;
    p.doc = doc;
    return p;
  }

  // ---- rules -------------------------------------------------------------------

  Page rules(Ctx& ctx) {
    ops::RulesRequest request;
    request.ruleset = ctx.req.query_param("ruleset");
    request.text = ctx.req.query_param("q");
    const ops::RulesReport report = ops::rules_matrix(ctx.config(), request);
    json view;
    view["ruleset"] = request.ruleset;
    view["q"] = request.text;
    view["sites"] = json::array();
    for (const auto& s : report.sites)
      view["sites"].push_back(
          {{"site", s.site}, {"reachable", s.reachable}, {"down", !s.reachable}, {"error", s.error}});
    view["rows"] = json::array();
    for (const auto& r : report.rows) {
      json cells = json::array();
      for (const char* channel : {"prod", "sl"})
        for (std::size_t i = 0; i < report.sites.size(); ++i) {
          const auto& c = r.cells[i];
          const auto& v = std::string(channel) == "prod" ? c.prod : c.sl;
          json cell = {{"site", report.sites[i].site},
                       {"channel", channel},
                       {"down", !report.sites[i].reachable},
                       {"no_rule", report.sites[i].reachable && !c.known},
                       {"differs", std::string(channel) == "prod" ? r.prod_differs : r.sl_differs}};
          if (v)
            cell["version"] = {
                {"label", v->label},     {"qualification", v->qualification},          {"pinned", v->pinned},
                {"hotfix", v->hotfix()}, {"hotfix_included", opt(v->hotfix_included)}, {"origin", v->origin}};
          else
            cell["version"] = false;
          cells.push_back(cell);
        }
      view["rows"].push_back({{"rule_key", r.rule_key},
                              {"href", "/rules/" + url_encode(r.rule_key)},
                              {"ruleset", r.ruleset},
                              {"cells", cells}});
    }
    view["count"] = report.rows.size();
    view["site_count"] = report.sites.size();
    Page p;
    p.title = "Rules";
    p.tmpl = "rules.mustache";
    p.view = view;
    p.doc = report.to_json();
    return p;
  }

  // ---- one rule, its diff, its forms ------------------------------------------

  // The rule page; `channel`/`label`: the activate form's choice (the gate
  // is shown for a move of prod to that label).
  Page rule(Ctx& ctx, const std::string& key, std::string channel, std::string label) {
    const config::Config& cfg = ctx.config();
    const ops::RulePage page = read_any(cfg, [&](const std::string& site) { return ops::rule_page(cfg, site, key); });
    json doc = page.to_json();
    json view = doc;
    const std::string enc = url_encode(key);
    view["href"] = "/rules/" + enc;
    if (channel.empty()) channel = ctx.req.query_param("channel");
    if (label.empty()) label = ctx.req.query_param("label");
    if (channel != "sl") channel = "prod";
    if (label.empty() && !page.detail.versions.empty()) label = page.detail.versions.back().label;
    json versions = json::array();
    std::string previous;
    for (const auto& v : doc["versions"]) {
      json x = v;
      const std::string l = v["label"];
      x["selected"] = l == label;
      x["hotfix"] = v.value("origin", std::string()) == "hotfix" ||
                    (v["annotations"].is_object() && v["annotations"].contains("hotfix_included"));
      x["hotfix_included"] =
          v["annotations"].is_object() ? v["annotations"].value("hotfix_included", json(nullptr)) : json(nullptr);
      x["annotations_text"] = v["annotations"].dump(2);
      x["lifecycle_text"] = fmt::format("{}", fmt::join(v["lifecycle"].get<std::vector<std::string>>(), ", "));
      if (!previous.empty())
        x["diff_href"] = fmt::format("/rules/{}/diff?from={}&to={}", enc, url_encode(previous), url_encode(l));
      previous = l;
      versions.push_back(x);
    }
    view["versions"] = versions;
    json history = json::array();
    for (const auto& h : doc["history"]) {
      json x = h;
      x["acknowledged_text"] = h["acknowledged"].is_null() ? json(nullptr) : json(h["acknowledged"].dump());
      history.push_back(x);
    }
    view["history"] = history;
    view["channel_prod"] = channel == "prod";
    view["channel_sl"] = channel == "sl";
    view["selected_label"] = label;
    // The hotfix gate of a move of prod to the chosen label, and of a
    // rollback of prod: shown before the change, acknowledged exactly.
    json gate = json::array();
    if (channel == "prod" && !label.empty()) {
      try {
        gate = ops::gate_preview(cfg, key, label);
      } catch (const common::ExitError& e) {
        view["gate_error"] = common::one_line(e.what());
      }
    }
    doc["hotfix_gate"] = gate;
    view["gate"] = gate_view(gate);
    try {
      const auto target = ops::rollback_target(cfg, key, "prod");
      view["rollback_to"] = opt(target);
      json rgate = target ? ops::gate_preview(cfg, key, *target) : json::array();
      view["rollback_gate"] = gate_view(rgate);
      doc["rollback"] = {{"prod_target", opt(target)}, {"hotfix_gate", rgate}};
    } catch (const common::ExitError& e) {
      view["rollback_error"] = common::one_line(e.what());
    }
    try {
      const json cgate = ops::cutover_gate(cfg);
      view["cutover_gate"] = gate_view(cgate);
      doc["cutover"] = {{"hotfix_gate", cgate}};
    } catch (const common::ExitError& e) {
      view["cutover_error"] = common::one_line(e.what());
    }
    Page p;
    p.title = "Rule " + key;
    p.tmpl = "rule.mustache";
    p.view = view;
    p.doc = doc;
    return p;
  }

  Page diff(Ctx& ctx, const std::string& key) {
    const config::Config& cfg = ctx.config();
    const std::string from = ctx.req.query_param("from"), to = ctx.req.query_param("to");
    if (from.empty() || to.empty())
      throw common::ExitError(common::exit_usage, "a diff needs from and to (two labels of the rule)");
    const ops::DiffReport d = read_any(cfg, [&](const std::string& site) {
      return ops::diff(cfg, ops::DiffRequest{site, key, from, to});
    });
    json doc = d.to_json();
    json view = {{"rule_key", key},
                 {"href", "/rules/" + url_encode(key)},
                 {"from", from},
                 {"to", to},
                 {"site", d.site},
                 {"rows", diff_rows(d.diff_json())},
                 {"same", d.entries.empty()}};
    try {
      view["from_body"] = ops::version_body(cfg, d.site, key, from).dump(2);
      view["to_body"] = ops::version_body(cfg, d.site, key, to).dump(2);
    } catch (const common::ExitError&) {
    }
    Page p;
    p.title = fmt::format("Diff of {}: {} to {}", key, from, to);
    p.tmpl = "diff.mustache";
    p.view = view;
    p.doc = doc;
    return p;
  }

  // A change from the rule page: the CLI's operation as the logged-in user.
  // Done: the rule page with the report; refused: the rule page with the
  // refusal (the CLI's words) and the form as it was sent.
  Page change(Ctx& ctx, const std::string& key, const std::string& verb) {
    const config::Config& cfg = ctx.config();
    const std::string channel = form_value(ctx.form, "channel");
    const std::string label = form_value(ctx.form, "label");
    site::client::Acknowledgement ack;
    // Exactly the boxes that were checked (an unchecked box sends nothing).
    for (const auto& v : form_values(ctx.form, "acknowledge_hotfix"))
      if (!v.empty()) ack.hotfixes.push_back(v);
    ack.acknowledge = form_has(ctx.form, "acknowledge");
    json report, done;
    json refused;
    int status = 200;
    try {
      if (verb == "cutover") {
        ops::CutoverRequest r;
        r.site = site::kE3Primary;
        r.ack = ack;
        const ops::CutoverReport c = ops::cutover(cfg, r, common::NoProgress());
        report = c.to_json();
        done = {
            {"summary", fmt::format("cutover at {}: {} rule(s) moved from sl to prod", c.site, c.result.moved.size())}};
      } else {
        ops::ChannelAction action = verb == "activate"   ? ops::ChannelAction::activate
                                    : verb == "pin"      ? ops::ChannelAction::pin
                                    : verb == "unpin"    ? ops::ChannelAction::unpin
                                    : verb == "rollback" ? ops::ChannelAction::rollback
                                                         : ops::ChannelAction::deactivate;
        if (channel.empty())
          throw common::ExitError(common::exit_usage, fmt::format("{} needs a channel (sl or prod)", verb));
        ops::ChannelRequest r;
        r.site = site::kE3Primary;
        r.channel = channel;
        r.rule = key;
        r.version = label;
        r.ack = ack;
        const ops::ChannelReport c = ops::change_channel(cfg, action, r, common::NoProgress());
        report = c.to_json();
        auto describe = [](const std::optional<site::client::Activation>& a) {
          return a ? a->label + (a->pinned ? " (pinned)" : "") : std::string("(none)");
        };
        done = {{"summary",
                 fmt::format("{} of {} in {} at {}: {} -> {} (epoch {}){}", verb, key, channel, c.site,
                             describe(c.before), describe(c.after), c.epoch,
                             c.acknowledged_hotfixes.empty() ? std::string()
                                                             : fmt::format(", acknowledged hotfix(es) {}",
                                                                           fmt::join(c.acknowledged_hotfixes, ", ")))}};
      }
    } catch (const common::ExitError& e) {
      refused = refusal_of(e);
      status = http_status(e.code());
    }
    Page p;
    try {
      p = rule(ctx, key, channel, label);
    } catch (const common::ExitError&) {
      p = Page{};
      p.title = "Rule " + key;
    }
    p.status = status;
    if (!refused.is_null()) {
      p.refusal = refused;
      p.doc = refused;
    } else {
      p.done = done;
      p.doc = report;
    }
    return p;
  }

  // ---- hotfixes ------------------------------------------------------------------

  Page hotfixes(Ctx& ctx) {
    const ops::HotfixOverview o = ops::hotfix_overview(ctx.config());
    json doc = o.to_json();
    json view = {{"site", o.site}, {"hotfixes", json::array()}};
    for (const auto& h : doc["hotfixes"]) {
      json x = h;
      x["rows"] = diff_rows(h["diff"]);
      x["rule_href"] = "/rules/" + url_encode(h["rule_key"].get<std::string>());
      json applied = json::array();
      for (const auto& [s, a] : h["applied_at"].items())
        applied.push_back({{"site", s},
                           {"yes", a.is_boolean() && a.get<bool>()},
                           {"no", a.is_boolean() && !a.get<bool>()},
                           {"unknown", a.is_null()}});
      x["applied"] = applied;
      view["hotfixes"].push_back(x);
    }
    view["count"] = o.rows.size();
    Page p;
    p.title = "Hotfixes";
    p.tmpl = "hotfixes.mustache";
    p.view = view;
    p.doc = doc;
    return p;
  }

  // ---- sites -------------------------------------------------------------------------

  Page sites(Ctx& ctx, json notice_report = nullptr) {
    const config::Config& cfg = ctx.config();
    const std::vector<std::string> e3 = e3_sites(cfg);
    json doc = {{"comparisons", json::array()}};
    json view = {{"comparisons", json::array()}, {"sites", e3}, {"site_options", json::array()}};
    // Default: from the DR site (last in config order) into the first.
    for (std::size_t i = 0; i < e3.size(); ++i)
      view["site_options"].push_back({{"name", e3[i]}, {"from", i + 1 == e3.size()}, {"to", i == 0}});
    for (std::size_t i = 0; i + 1 < e3.size(); ++i)
      for (std::size_t j = i + 1; j < e3.size(); ++j) {
        json v = {{"a", e3[i]}, {"b", e3[j]}};
        try {
          ops::CompareRequest r;
          r.a = e3[i];
          r.b = e3[j];
          r.verify_history = false;
          const ops::CompareReport c = ops::compare(cfg, r);
          json d = c.to_json();
          doc["comparisons"].push_back(d);
          v["equal"] = c.checksums_equal();
          v["buckets"] = c.differing_buckets.size();
          json rules = json::array();
          for (const auto& rd : d["rules"]) {
            json x = rd;
            x["href"] = "/rules/" + url_encode(rd["rule_key"].get<std::string>());
            auto joined = [&](const char* k) {
              return fmt::format("{}", fmt::join(rd[k].get<std::vector<std::string>>(), ", "));
            };
            x["only_a_text"] = joined("only_a");
            x["only_b_text"] = joined("only_b");
            x["content_differs_text"] = joined("content_differs");
            rules.push_back(x);
          }
          v["rules"] = rules;
        } catch (const common::ExitError& e) {
          v["error"] = refusal_of(e);
          for (const auto& name : {e3[i], e3[j]}) {
            const std::string m = e.what();
            if (m.find(name) != std::string::npos) v["down"].push_back(name);
          }
          doc["comparisons"].push_back({{"a", e3[i]}, {"b", e3[j]}, {"error", refusal_of(e)}});
        }
        view["comparisons"].push_back(v);
      }
    if (!notice_report.is_null()) view["reconcile"] = notice_report;
    Page p;
    p.title = "Sites";
    p.tmpl = "sites.mustache";
    p.view = view;
    p.doc = doc;
    return p;
  }

  Page reconcile(Ctx& ctx) {
    ops::ReconcileRequest r;
    r.from = form_value(ctx.form, "from");
    r.to = form_value(ctx.form, "to");
    const std::string dry = form_value(ctx.form, "dry_run");
    r.dry_run = !(dry == "false" || dry == "0" || dry == "no" || dry.empty());
    if (r.from.empty() || r.to.empty())
      throw common::ExitError(common::exit_usage, "reconcile needs from and to (two E3 sites)");
    json report, refused;
    int status = 200;
    try {
      const ops::ReconcileReport rep = ops::reconcile(ctx.config(), r);
      report = rep.to_json();
      if (rep.exit_code != 0) status = 409;
    } catch (const common::ExitError& e) {
      refused = refusal_of(e);
      status = http_status(e.code());
    }
    json shown = report.is_null()
                     ? json(nullptr)
                     : json{{"text", report.dump(2)}, {"dry_run", r.dry_run}, {"from", r.from}, {"to", r.to}};
    Page p = sites(ctx, shown);
    p.status = status;
    if (!refused.is_null()) {
      p.refusal = refused;
      p.doc = refused;
    } else {
      const long long open = report.value("open_conflicts", 0LL);
      p.done = {
          {"summary", fmt::format("{}reconcile from {} into {}: {} open conflict(s){}", r.dry_run ? "dry run: " : "",
                                  r.from, r.to, open, r.dry_run ? " (nothing was changed)" : "")}};
      if (status == 409) {
        p.refusal = refusal(common::exit_refused, fmt::format("{} conflict(s) remain open at {}", open, r.to),
                            "rulectl conflicts list shows them; nothing was overwritten");
        p.done = nullptr;
      }
      p.doc = report;
    }
    return p;
  }

  // ---- pods ------------------------------------------------------------------------

  // What the database knows of notifications (ops/notification_status.hpp,
  // as `rulectl status` shows it): each E3 site's channel epochs and holds;
  // hold and release through `rulectl notify`'s operation.
  Page pods(Ctx& ctx) {
    const config::Config& cfg = ctx.config();
    std::vector<std::string> notes;
    // A full probe: notification_status needs each site's extension version.
    std::vector<const config::SiteConfig*> e3;
    for (const auto& s : cfg.sites)
      if (s.environment == "e3") e3.push_back(&s);
    const json channels = ops::notification_status(site::probe_all(e3, site::ProbeDepth::full), notes);
    json view = {{"channels", channels}, {"notes", notes}, {"sites", e3_sites(cfg)}};
    json rows = json::array();
    for (const auto& c : channels) {
      json x = c;
      x["behind"] = c.value("held", false) && c.value("served_epoch", json()) != c.value("current_epoch", json());
      rows.push_back(x);
    }
    view["channels"] = rows;
    // The pods themselves, from each site's gateway (ops/pods.hpp, the
    // reading `rulectl pods` prints): a gateway down is shown, not fatal.
    const ops::GatewayPods gateways = ops::read_gateway_pods(cfg);
    json pod_rows = json::array();
    json gateways_down = json::array();
    for (const auto& g : gateways.gateways) {
      if (!g.value("reachable", false)) {
        gateways_down.push_back(
            {{"site", g.value("site", "")}, {"url", g.value("url", "")}, {"error", g.value("error", "")}});
        continue;
      }
      for (const auto& pod : g.value("pods", json::array())) {
        json r = pod;
        r["site"] = g.value("site", "");
        std::string labels;
        if (pod.contains("labels") && pod["labels"].is_object())
          for (const auto& [k, v] : pod["labels"].items())
            labels += (labels.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
        r["labels_text"] = labels;
        pod_rows.push_back(r);
      }
    }
    view["pods"] = pod_rows;
    view["gateways_down"] = gateways_down;
    view["no_gateway"] = !gateways.any;
    Page p;
    p.title = "Pods";
    p.tmpl = "pods.mustache";
    p.view = view;
    p.doc = {{"channels", channels}, {"notes", notes}, {"gateways", gateways.gateways}};
    return p;
  }

  Page notify(Ctx& ctx, ops::NotifyAction action) {
    ops::NotifyRequest r;
    r.action = action;
    r.site = form_value(ctx.form, "site");
    r.channel = form_value(ctx.form, "channel");
    r.reason = form_value(ctx.form, "reason");
    json report, refused;
    int status = 200;
    try {
      report = ops::notify(ctx.config(), r).to_json();
    } catch (const common::ExitError& e) {
      refused = refusal_of(e);
      status = http_status(e.code());
    }
    Page p = pods(ctx);
    p.status = status;
    if (!refused.is_null()) {
      p.refusal = refused;
      p.doc = refused;
    } else {
      p.done = {{"summary", fmt::format("{} {} at {}{}", action == ops::NotifyAction::hold ? "held" : "released",
                                        r.channel, r.site,
                                        report.contains("held_epoch") && !report["held_epoch"].is_null()
                                            ? fmt::format(" (epoch {})", report["held_epoch"].dump())
                                            : std::string())}};
      p.doc = report;
    }
    return p;
  }

  void routes() {
    auto& s = *server;
    for (const char* name : {"portal.css", "portal.js"}) {
      const std::string n = name;
      s.get(std::string("/static/") + name, [n](const http::Request&) {
        http::Response r;
        r.content_type = n.size() > 4 && n.substr(n.size() - 4) == ".css" ? "text/css; charset=utf-8"
                                                                          : "text/javascript; charset=utf-8";
        r.body = assets().at(n);
        r.headers.emplace_back("Cache-Control", "max-age=300");
        r.headers.emplace_back("X-Content-Type-Options", "nosniff");
        return r;
      });
    }
    s.get("/login", [this](const http::Request& r) { return login_get(r); });
    auto post = [&s](const std::string& path, http::SimpleHandler h) {
      s.route("POST", path, [h](const std::shared_ptr<http::Exchange>& ex) { ex->respond(h(ex->request())); });
    };
    post("/login", [this](const http::Request& r) { return login_post(r); });
    post("/logout", wrap(true, [this](Ctx& c) { return logout(c); }));
    s.get("/", wrap(false, [this](Ctx& c) { return overview(c); }));
    s.get("/rules", wrap(false, [this](Ctx& c) { return rules(c); }));
    s.get("/rules/{rule_key}", wrap(false, [this](Ctx& c) { return rule(c, c.req.params.at("rule_key"), "", ""); }));
    s.get("/rules/{rule_key}/diff", wrap(false, [this](Ctx& c) { return diff(c, c.req.params.at("rule_key")); }));
    for (const char* verb : {"activate", "deactivate", "pin", "unpin", "rollback", "cutover"}) {
      const std::string v = verb;
      post(std::string("/rules/{rule_key}/") + verb,
           wrap(true, [this, v](Ctx& c) { return change(c, c.req.params.at("rule_key"), v); }));
    }
    s.get("/hotfixes", wrap(false, [this](Ctx& c) { return hotfixes(c); }));
    s.get("/sites", wrap(false, [this](Ctx& c) { return sites(c); }));
    post("/sites/reconcile", wrap(true, [this](Ctx& c) { return reconcile(c); }));
    s.get("/pods", wrap(false, [this](Ctx& c) { return pods(c); }));
    post("/pods/hold", wrap(true, [this](Ctx& c) { return notify(c, ops::NotifyAction::hold); }));
    post("/pods/release", wrap(true, [this](Ctx& c) { return notify(c, ops::NotifyAction::release); }));
  }
};

Portal::Portal(config::Config config, PortalOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}

Portal::~Portal() { stop(); }

void Portal::start() {
  http::ServerOptions so;
  std::tie(so.address, so.port) = http::Server::parse_listen_address(impl_->options.listen);
  so.threads = impl_->options.threads;
  so.server_name = "rulectl portal";
  // TLS (http/server.hpp): every connection, with the Secure cookie flag.
  so.tls_certificate_file = impl_->options.tls_certificate;
  so.tls_private_key_file = impl_->options.tls_private_key;
  impl_->tls = so.tls();
  impl_->server = std::make_unique<http::Server>(so);
  impl_->routes();
  impl_->server->start();
}

std::string Portal::endpoint() const { return impl_->server ? impl_->server->endpoint() : std::string(); }

std::string Portal::url() const { return std::string(impl_->tls ? "https://" : "http://") + endpoint(); }

void Portal::stop() {
  if (impl_ && impl_->server) impl_->server->stop();
}

}  // namespace rulekeeper::portal
