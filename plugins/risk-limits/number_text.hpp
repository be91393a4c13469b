// Numbers in human-readable reasons: the shortest text that reads back as the same double,
// so "1000" and "0.02" appear as users wrote them.
#pragma once

#include <charconv>
#include <string>

namespace risk_limits {

inline std::string number_text(double value) {
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

} // namespace risk_limits
