// Which parts of the pipeline a process runs (`tradehost run --role ...`).
#pragma once

#include <optional>
#include <string_view>

namespace th {

enum Role : unsigned {
  role_gateway = 1u << 0,
  role_agent = 1u << 1, // strategies and the risk chain
  role_exec = 1u << 2,  // executors and the portfolio
  role_audit = 1u << 3, // audit sinks
  role_all = role_gateway | role_agent | role_exec | role_audit,
};

// "all", or a comma-separated list of gateway, agent, exec, audit. nullopt when unknown.
inline std::optional<unsigned> parse_roles(std::string_view text) {
  unsigned roles = 0;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view name = text.substr(0, comma);
    if (name == "all")
      roles |= role_all;
    else if (name == "gateway")
      roles |= role_gateway;
    else if (name == "agent")
      roles |= role_agent;
    else if (name == "exec")
      roles |= role_exec;
    else if (name == "audit")
      roles |= role_audit;
    else
      return std::nullopt;
    if (comma == std::string_view::npos)
      break;
    text.remove_prefix(comma + 1);
  }
  return roles ? std::optional<unsigned>(roles) : std::nullopt;
}

} // namespace th
