#include "events/json_depth.hpp"

#include "events/utf8.hpp"

namespace th {

JsonDepthCheck check_json_depth(std::string_view text, size_t max_depth) {
  JsonDepthCheck result;
  size_t depth = 0;
  bool top_is_object = false, expect_key = false;
  std::string_view key; // the current top-level key, raw (escapes kept)
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      size_t start = ++i;
      while (i < text.size() && text[i] != '"')
        i += text[i] == '\\' ? 2 : 1;
      if (depth == 1 && top_is_object && expect_key) {
        key = text.substr(start, std::min(i, text.size()) - start);
        expect_key = false;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      if (depth == 0)
        top_is_object = c == '{';
      if (++depth > result.depth)
        result.depth = depth;
      if (depth > max_depth) {
        result.ok = false;
        result.field = top_is_object ? std::string(utf8_prefix(key, 64)) : "";
        return result;
      }
      expect_key = depth == 1 && c == '{';
    } else if (c == '}' || c == ']') {
      if (depth > 0)
        --depth;
    } else if (c == ',' && depth == 1) {
      expect_key = top_is_object;
    }
  }
  return result;
}

} // namespace th
