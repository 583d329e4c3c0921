// Reading result fields into typed values: a NULL as std::nullopt. (libpqxx
// 6.4's field::get<std::string, std::optional>() throws on NULL where
// std::optional support is not configured, so the client does it itself.)
#pragma once

#include <optional>
#include <string>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

inline std::optional<std::string> optional_text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return std::string(f.c_str());
}

}  // namespace rulekeeper::site::client
