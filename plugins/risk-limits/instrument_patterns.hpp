// An instrument allow or deny list: exact names, or prefixes written with one trailing '*'.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace risk_limits {

class InstrumentPatterns {
public:
  // Each pattern is validated: non-empty, at most one '*', and only as the last character.
  // Throws std::invalid_argument naming the list and the pattern.
  InstrumentPatterns(std::string_view list_name, std::vector<std::string> patterns);

  // The first pattern that matches the instrument (as written in the params), if any.
  std::optional<std::string_view> match(std::string_view instrument) const;

private:
  std::vector<std::string> patterns_;
};

} // namespace risk_limits
