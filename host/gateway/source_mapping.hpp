// A source's field mapping, applied to its parsed payload before validation: each mapped signal
// field takes its value from the payload field named by `from` (moved, so it is not reported as
// unknown), optionally cut after a separator, case-folded or converted to a number.
#pragma once

#include "gateway/gateway_config.hpp"

#include <nlohmann/json.hpp>

namespace th::gateway {

// Rewrites body (an object) in place.
void apply_mapping(const std::vector<FieldMapping> &mapping, nlohmann::json &body);

// The value at `path` in body: the whole path as one key first ("strategy.order_action"), then
// as nested keys (strategy -> order_action). nullptr when absent.
const nlohmann::json *find_field(const nlohmann::json &body, std::string_view path);

} // namespace th::gateway
