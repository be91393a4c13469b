#include "audit_chain/canonical_json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace th::audit {
namespace {

// Doubles represent every integer up to 2^53 exactly, and ECMAScript prints them in full.
constexpr int64_t exact_integer_limit = int64_t{1} << 53;

void append_utf16_units(std::string_view s, std::u16string &out) {
  out.clear();
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t n;
    if (b < 0x80)
      cp = b, n = 1;
    else if (b < 0xE0)
      cp = b & 0x1F, n = 2;
    else if (b < 0xF0)
      cp = b & 0x0F, n = 3;
    else
      cp = b & 0x07, n = 4;
    for (size_t k = 1; k < n && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
}

// UTF-8 byte order equals code-point order, which differs from UTF-16 order only between a
// supplementary character (4-byte sequence) and one in U+E000..U+FFFF.
bool has_supplementary(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0xF0; });
}

void append_value(const nlohmann::json &v, std::string &out);

void append_object(const nlohmann::json &v, std::string &out) {
  out += '{';
  bool first = true;
  auto member = [&](const std::string &key, const nlohmann::json &value) {
    if (!first)
      out += ',';
    first = false;
    if (!is_valid_utf8(key))
      throw CanonicalJsonError("object key is not valid UTF-8");
    append_string(key, out);
    out += ':';
    append_value(value, out);
  };
  // nlohmann's object is a std::map in byte order; re-sort only when that order could differ.
  bool resort = false;
  for (auto it = v.begin(); it != v.end() && !resort; ++it)
    resort = has_supplementary(it.key());
  if (!resort) {
    for (auto it = v.begin(); it != v.end(); ++it)
      member(it.key(), it.value());
  } else {
    std::vector<nlohmann::json::const_iterator> items;
    for (auto it = v.begin(); it != v.end(); ++it)
      items.push_back(it);
    std::sort(items.begin(), items.end(), [](auto a, auto b) { return utf16_less(a.key(), b.key()); });
    for (auto &it : items)
      member(it.key(), it.value());
  }
  out += '}';
}

void append_value(const nlohmann::json &v, std::string &out) {
  using T = nlohmann::json::value_t;
  switch (v.type()) {
  case T::null:
    out += "null";
    break;
  case T::boolean:
    out += v.get<bool>() ? "true" : "false";
    break;
  case T::number_integer: {
    auto i = v.get<int64_t>();
    if (i > -exact_integer_limit && i < exact_integer_limit)
      out += std::to_string(i);
    else
      append_number(static_cast<double>(i), out);
    break;
  }
  case T::number_unsigned: {
    auto u = v.get<uint64_t>();
    if (u < static_cast<uint64_t>(exact_integer_limit))
      out += std::to_string(u);
    else
      append_number(static_cast<double>(u), out);
    break;
  }
  case T::number_float:
    append_number(v.get<double>(), out);
    break;
  case T::string: {
    auto &s = v.get_ref<const std::string &>();
    if (!is_valid_utf8(s))
      throw CanonicalJsonError("string is not valid UTF-8");
    append_string(s, out);
    break;
  }
  case T::array: {
    out += '[';
    bool first = true;
    for (auto &e : v) {
      if (!first)
        out += ',';
      first = false;
      append_value(e, out);
    }
    out += ']';
    break;
  }
  case T::object:
    append_object(v, out);
    break;
  default:
    throw CanonicalJsonError("value has no JSON form (binary or discarded)");
  }
}

} // namespace

void append_number(double value, std::string &out) {
  if (!std::isfinite(value))
    throw CanonicalJsonError("number is not finite");
  if (value == 0) { // both zeros print as "0"
    out += '0';
    return;
  }
  // Shortest round-trip digits in scientific form: [-]d[.ddd]e(+|-)xx
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  if (s.front() == '-') {
    out += '-';
    s.remove_prefix(1);
  }
  size_t e = s.find('e');
  std::string digits(1, s[0]);
  if (e > 1)
    digits.append(s.substr(2, e - 2));
  int exponent = std::atoi(std::string(s.substr(e + 1)).c_str());
  int k = static_cast<int>(digits.size());
  int n = exponent + 1; // value = 0.d1d2..dk * 10^n
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out += '.';
    out.append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += n - 1 < 0 ? '-' : '+';
    out += std::to_string(std::abs(n - 1));
  }
}

void append_string(std::string_view s, std::string &out) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  size_t run = 0; // start of the current run of bytes copied verbatim
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out.append(s, run, i - run);
    run = i + 1;
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  out.append(s, run, s.size() - run);
  out += '"';
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
      if (i + k >= n)
        return false;
      auto c = static_cast<unsigned char>(s[i + k]);
      return c >= lo && c <= hi;
    };
    if (b >= 0xC2 && b <= 0xDF) {
      if (!cont(1))
        return false;
      i += 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      unsigned char lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF; // no overlongs, surrogates
      if (!cont(1, lo, hi) || !cont(2))
        return false;
      i += 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      unsigned char lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF; // <= U+10FFFF
      if (!cont(1, lo, hi) || !cont(2) || !cont(3))
        return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

bool utf16_less(std::string_view a, std::string_view b) {
  if (!has_supplementary(a) && !has_supplementary(b))
    return a < b;
  std::u16string ua, ub;
  append_utf16_units(a, ua);
  append_utf16_units(b, ub);
  return ua < ub;
}

void append_canonical(const nlohmann::json &value, std::string &out) {
  append_value(value, out);
}

std::string canonical_json(const nlohmann::json &value) {
  std::string out;
  append_value(value, out);
  return out;
}

// canonicalize() lives in canonical_parser.cpp.

} // namespace th::audit
