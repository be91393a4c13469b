// A bound on how deeply JSON text nests, checked before it is parsed. nlohmann's parser and
// destructor do not recurse, but dump(), copies, comparisons and schema validation do, one stack
// frame per level: text from outside (webhooks, bus messages) is refused here before any of
// them can run out of stack.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace th {

// The default bound on nesting (arrays and objects) for JSON from outside the process.
inline constexpr size_t default_max_json_depth = 64;
// The bound for event JSON the host itself writes (bus messages, extra_json, audit data): the
// gateway's bound plus the envelope, with room to spare.
inline constexpr size_t max_bus_json_depth = 256;

struct JsonDepthCheck {
  bool ok = true;
  size_t depth = 0;  // the deepest nesting seen (up to the point of refusal)
  std::string field; // the top-level key whose value nests too deep; "" when the text is not an object
};

// One linear pass without recursion; strings (and escapes in them) are skipped. Text that is not
// JSON passes unless it nests too deep: the parser that follows reports it.
JsonDepthCheck check_json_depth(std::string_view text, size_t max_depth = default_max_json_depth);

} // namespace th
