#include "bus/key_value.hpp"

namespace th {

std::string kv_key(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string key;
  key.reserve(text.size());
  for (unsigned char c : text) {
    const bool plain =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (plain) {
      key += static_cast<char>(c);
    } else {
      key += '=';
      key += hex[c >> 4];
      key += hex[c & 0xF];
    }
  }
  return key.empty() ? "=" : key;
}

} // namespace th
