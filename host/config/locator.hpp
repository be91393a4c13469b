// Where a setting of one section is, given its JSON pointer within the section ("" for the
// section itself, "/consumers/fetch_batch"): how a part that reads its own settings (the bus)
// names locations without knowing the deployment. The host passes one that asks the
// deployment, e.g. [&d](auto p) { return d.locate("/bus/jetstream" + std::string(p)); }.
#pragma once

#include "config/source_location.hpp"

#include <functional>
#include <string_view>

namespace th {

using Locator = std::function<SourceLocation(std::string_view json_pointer)>;

} // namespace th
