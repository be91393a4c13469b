// Cutting UTF-8 text without splitting a character: a label value or log field cut inside a
// multi-byte character is invalid UTF-8, which promtool (and every JSON encoder) rejects. And
// finding where text stops being valid UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF).
#pragma once

#include <cstddef>
#include <cstdint>
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

// The offset of the first byte that is not part of a valid UTF-8 character (npos: all valid).
inline size_t utf8_invalid_at(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    size_t n = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (n == 2 && b < 0xC2) || (n == 4 && b > 0xF4) || i + n > text.size())
      return i;
    uint32_t cp = n == 1 ? b : n == 2 ? b & 0x1F : n == 3 ? b & 0x0F : b & 0x07;
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80)
        return i;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return i;
    i += n;
  }
  return std::string_view::npos;
}

} // namespace th
