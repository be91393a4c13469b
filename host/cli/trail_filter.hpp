// The row filters `audit export`, `trace` and `tail` share: --type T[,T..], --agent A,
// --instrument I, --last N, --from N, --to M.
#pragma once

#include "cli/args.hpp"

#include <audit_chain/rows.hpp>

#include <vector>

namespace th::cli {

inline const char *const trail_filter_help =
    R"(  --type T[,T..]     only these event types (e.g. fill_received,order_rejected)
  --agent A          only rows whose data has agent_id A
  --instrument I     only rows whose data has instrument I
  --last N           only the last N matching rows
)";

std::vector<OptionSpec> trail_filter_options(); // --type --agent --instrument --last --from --to
// Throws UsageError on a bad number.
audit::RowFilter trail_filter(const ParsedArgs &args);
uint64_t number_option(const ParsedArgs &args, const std::string &name, uint64_t fallback);

} // namespace th::cli
