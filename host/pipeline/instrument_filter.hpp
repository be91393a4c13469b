// An agent's instrument filter: exact names, "*" for all, "PREFIX*" for a prefix.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace th {

class InstrumentFilter {
public:
  InstrumentFilter() = default; // matches everything
  explicit InstrumentFilter(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}

  bool matches(std::string_view instrument) const {
    if (patterns_.empty())
      return true;
    for (const auto &p : patterns_) {
      if (!p.empty() && p.back() == '*') {
        if (instrument.substr(0, p.size() - 1) == std::string_view(p).substr(0, p.size() - 1))
          return true;
      } else if (p == instrument) {
        return true;
      }
    }
    return false;
  }

private:
  std::vector<std::string> patterns_;
};

} // namespace th
