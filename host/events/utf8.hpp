// Cutting UTF-8 text without splitting a character: a label value or log field cut inside a
// multi-byte character is invalid UTF-8, which promtool (and every JSON encoder) rejects.
#pragma once

#include <cstddef>
#include <string_view>

namespace th {

// The longest prefix of text of at most max_bytes that ends on a character boundary. (Only the
// cut is moved; text that is already invalid stays so.)
inline std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes)
    return text;
  size_t end = max_bytes;
  // Back over continuation bytes (10xxxxxx) to the lead byte of the character that is cut.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  return text.substr(0, end);
}

} // namespace th
