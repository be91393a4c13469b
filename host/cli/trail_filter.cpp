#include "cli/trail_filter.hpp"

#include <charconv>
#include <sstream>

namespace th::cli {

std::vector<OptionSpec> trail_filter_options() {
  return {{"--type", "", true},   {"--agent", "", true}, {"--instrument", "", true},
          {"--last", "-n", true}, {"--from", "", true},  {"--to", "", true}};
}

uint64_t number_option(const ParsedArgs &args, const std::string &name, uint64_t fallback) {
  auto v = args.value(name);
  if (!v)
    return fallback;
  uint64_t out = 0;
  auto r = std::from_chars(v->data(), v->data() + v->size(), out);
  if (r.ec != std::errc() || r.ptr != v->data() + v->size())
    throw UsageError(name + " needs a non-negative integer, not \"" + *v + "\"");
  return out;
}

audit::RowFilter trail_filter(const ParsedArgs &args) {
  audit::RowFilter filter;
  filter.from = number_option(args, "--from", 1);
  filter.to = number_option(args, "--to", INT64_MAX);
  filter.last = number_option(args, "--last", 0);
  filter.agent_id = args.value("--agent");
  filter.instrument = args.value("--instrument");
  if (auto types = args.value("--type")) {
    std::istringstream in(*types);
    for (std::string type; std::getline(in, type, ',');)
      if (!type.empty())
        filter.event_types.push_back(type);
  }
  return filter;
}

} // namespace th::cli
