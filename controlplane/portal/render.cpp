// See render.hpp.
#include "portal/render.hpp"

#include <stdexcept>

#include <kainjow/mustache.hpp>

#include "portal/assets.hpp"

namespace rulekeeper::portal {
namespace {

namespace mus = kainjow::mustache;
using nlohmann::json;

mus::data to_data(const json& j) {
  switch (j.type()) {
    case json::value_t::object: {
      mus::data d{mus::data::type::object};
      for (const auto& [k, v] : j.items()) d.set(k, to_data(v));
      return d;
    }
    case json::value_t::array: {
      mus::data d{mus::data::type::list};
      for (const auto& v : j) d.push_back(to_data(v));
      return d;
    }
    case json::value_t::string: return mus::data(j.get<std::string>());
    case json::value_t::boolean: return mus::data(j.get<bool>());
    case json::value_t::null: return mus::data(false);
    default: return mus::data(j.dump());
  }
}

std::string render(const std::string& name, const json& view) {
  const auto& files = assets();
  auto it = files.find(name);
  if (it == files.end()) throw std::logic_error("no template " + name + " compiled into rulectl");
  mus::mustache tmpl(it->second);
  if (!tmpl.is_valid()) throw std::logic_error("template " + name + ": " + tmpl.error_message());
  std::string out = tmpl.render(to_data(view));
  if (!tmpl.error_message().empty()) throw std::logic_error("template " + name + ": " + tmpl.error_message());
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string form_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string render_page(const std::string& template_name, const json& view, const json& layout) {
  json l = layout;
  l["body"] = render(template_name, view);
  return render("layout.mustache", l);
}

std::string url_encode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~')
      out += static_cast<char>(c);
    else
      out += '%', out += hex[c >> 4], out += hex[c & 15];
  }
  return out;
}

Form parse_form(const std::string& body) {
  Form out;
  std::size_t at = 0;
  while (at <= body.size()) {
    std::size_t amp = body.find('&', at);
    if (amp == std::string::npos) amp = body.size();
    const std::string pair = body.substr(at, amp - at);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      out.emplace_back(form_decode(pair.substr(0, eq)),
                       eq == std::string::npos ? std::string() : form_decode(pair.substr(eq + 1)));
    }
    at = amp + 1;
  }
  return out;
}

std::string form_value(const Form& form, const std::string& name) {
  for (const auto& [k, v] : form)
    if (k == name) return v;
  return {};
}

std::vector<std::string> form_values(const Form& form, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : form)
    if (k == name) out.push_back(v);
  return out;
}

bool form_has(const Form& form, const std::string& name) {
  for (const auto& [k, v] : form)
    if (k == name) return true;
  return false;
}

json diff_rows(const json& diff) {
  json rows = json::array();
  if (!diff.is_array()) return rows;
  for (const auto& d : diff) {
    const std::string op = d.value("op", std::string("replace"));
    auto text = [&](const char* key) { return d.contains(key) ? d[key].dump(2) : std::string(); };
    rows.push_back({{"cls", op == "add"      ? "diff-added"
                            : op == "remove" ? "diff-removed"
                                             : "diff-replaced"},
                    {"op", op == "add"      ? "added"
                           : op == "remove" ? "removed"
                                            : "replaced"},
                    {"path", d.value("path", std::string())},
                    {"old", text("old_value")},
                    {"new", text("new_value")}});
  }
  return rows;
}

}  // namespace rulekeeper::portal
