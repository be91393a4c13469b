#include "instrument_patterns.hpp"

#include <stdexcept>

namespace risk_limits {

InstrumentPatterns::InstrumentPatterns(std::string_view list_name, std::vector<std::string> patterns)
    : patterns_(std::move(patterns)) {
  for (const std::string &p : patterns_) {
    const auto star = p.find('*');
    if (p.empty() || (star != std::string::npos && star != p.size() - 1))
      throw std::invalid_argument("risk-limits params: " + std::string(list_name) + " entry \"" + p +
                                  "\" must be a non-empty exact name or a prefix ending in a single '*'");
  }
}

std::optional<std::string_view> InstrumentPatterns::match(std::string_view instrument) const {
  for (const std::string &p : patterns_) {
    const bool glob = p.back() == '*';
    const std::string_view fixed(p.data(), glob ? p.size() - 1 : p.size());
    if (glob ? instrument.starts_with(fixed) : instrument == fixed)
      return std::string_view(p);
  }
  return std::nullopt;
}

} // namespace risk_limits
