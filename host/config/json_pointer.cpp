#include "config/json_pointer.hpp"

#include <cctype>

namespace th {

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

std::vector<std::string> split_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty())
    return tokens;
  size_t start = pointer.front() == '/' ? 1 : 0;
  while (true) {
    size_t end = pointer.find('/', start);
    std::string_view raw = pointer.substr(start, end == std::string_view::npos ? pointer.npos : end - start);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += raw[i];
      }
    }
    tokens.push_back(std::move(token));
    if (end == std::string_view::npos)
      break;
    start = end + 1;
  }
  return tokens;
}

std::string parent_pointer(std::string_view pointer) {
  size_t slash = pointer.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(pointer.substr(0, slash));
}

namespace {

bool is_index(const std::string &token) {
  if (token.empty() || token.size() > 18)
    return false;
  for (char c : token)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
  return true;
}

bool is_plain_key(const std::string &key) {
  if (key.empty())
    return false;
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      return false;
  return true;
}

} // namespace

std::string yaml_path_key(const std::string &path, std::string_view key) {
  std::string k(key);
  if (is_plain_key(k))
    return path.empty() ? k : path + "." + k;
  // Keys come from text already checked to be UTF-8; an expanded ${VAR} may not be: replaced.
  return path + "[" + nlohmann::json(k).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "]";
}

std::string yaml_path_index(const std::string &path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string yaml_path_of(const nlohmann::json &document, std::string_view pointer) {
  std::string path;
  const nlohmann::json *node = &document;
  for (const std::string &token : split_pointer(pointer)) {
    bool in_array = node ? node->is_array() : is_index(token);
    if (in_array && is_index(token)) {
      path = yaml_path_index(path, std::stoul(token));
      size_t index = std::stoul(token);
      node = node && index < node->size() ? &(*node)[index] : nullptr;
      continue;
    }
    path = yaml_path_key(path, token);
    if (node && node->is_object()) {
      auto it = node->find(token);
      node = it == node->end() ? nullptr : &*it;
    } else {
      node = nullptr;
    }
  }
  return path;
}

} // namespace th
