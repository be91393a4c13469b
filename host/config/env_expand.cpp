#include "config/env_expand.hpp"

#include <cctype>
#include <cstdlib>

namespace th {

EnvLookup process_environment() {
  return [](const std::string &name) -> std::optional<std::string> {
    const char *value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
}

namespace {

bool valid_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      return false;
  return true;
}

// The index of the '}' closing the "${" at `open`, counting nested "${...}"; npos if none.
size_t closing_brace(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      ++depth;
      ++i;
    } else if (text[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

void expand_into(std::string_view text, const EnvLookup &lookup, EnvExpansion &out) {
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size() || (text[i + 1] != '$' && text[i + 1] != '{')) {
      out.text += c;
      continue;
    }
    if (text[i + 1] == '$') {
      out.text += '$';
      ++i;
      continue;
    }
    size_t close = closing_brace(text, i);
    if (close == std::string_view::npos) {
      out.errors.push_back("unterminated '${' (a literal dollar is written '$$')");
      out.text += text.substr(i);
      return;
    }
    std::string_view inner = text.substr(i + 2, close - i - 2);
    size_t separator = inner.find(":-");
    std::string name(inner.substr(0, separator));
    if (!valid_name(name)) {
      out.errors.push_back("'${" + std::string(inner) +
                           "}' is not a variable reference (names are letters, digits and _)");
    } else {
      std::optional<std::string> value = lookup(name);
      if (separator != std::string_view::npos && (!value || value->empty())) {
        expand_into(inner.substr(separator + 2), lookup, out);
      } else if (value) {
        out.text += *value;
      } else {
        out.errors.push_back("environment variable " + name + " is not set (write ${" + name +
                             ":-default} to give a default)");
      }
    }
    i = close;
  }
}

} // namespace

EnvExpansion expand_env(std::string_view text, const EnvLookup &lookup) {
  EnvExpansion out;
  if (text.size() >= 3 && text.substr(0, 2) == "${")
    out.whole_reference = closing_brace(text, 0) == text.size() - 1;
  expand_into(text, lookup, out);
  return out;
}

} // namespace th
