#include "gateway/source_mapping.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

namespace th::gateway {

const nlohmann::json *find_field(const nlohmann::json &body, std::string_view path) {
  if (!body.is_object())
    return nullptr;
  if (auto it = body.find(path); it != body.end())
    return &*it;
  const nlohmann::json *node = &body;
  while (!path.empty()) {
    auto dot = path.find('.');
    auto key = path.substr(0, dot);
    if (!node->is_object())
      return nullptr;
    auto it = node->find(key);
    if (it == node->end())
      return nullptr;
    node = &*it;
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  }
  return node;
}

namespace {
void erase_field(nlohmann::json &body, std::string_view path) {
  if (body.erase(std::string(path)))
    return;
  auto dot = path.rfind('.');
  if (dot == std::string_view::npos)
    return;
  auto *parent = const_cast<nlohmann::json *>(find_field(body, path.substr(0, dot)));
  if (parent && parent->is_object()) {
    parent->erase(std::string(path.substr(dot + 1)));
    // Drop a parent emptied by the move (e.g. "strategy": {}), so it is not an unknown field.
    if (parent->empty() && path.substr(0, dot).find('.') == std::string_view::npos)
      body.erase(std::string(path.substr(0, dot)));
  }
}

nlohmann::json transform(const FieldMapping &m, nlohmann::json value) {
  if (value.is_string()) {
    std::string s = value.get<std::string>();
    if (!m.after.empty())
      if (auto at = s.rfind(m.after); at != std::string::npos)
        s = s.substr(at + m.after.size());
    if (m.upper)
      for (auto &c : s)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (m.lower)
      for (auto &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (m.number) {
      double d = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      // "NaN", "inf" and "infinity" parse too: they stay text, which validation refuses (422).
      if (ec == std::errc() && end == s.data() + s.size() && std::isfinite(d))
        return d;
    }
    return s;
  }
  return value;
}
} // namespace

void apply_mapping(const std::vector<FieldMapping> &mapping, nlohmann::json &body) {
  if (!body.is_object() || mapping.empty())
    return;
  // Read every source value first, so one mapping's target cannot feed another's source.
  std::vector<std::optional<nlohmann::json>> values;
  values.reserve(mapping.size());
  for (const auto &m : mapping) {
    const nlohmann::json *v = find_field(body, m.from);
    values.push_back(v ? std::optional(*v) : m.fallback);
  }
  for (const auto &m : mapping)
    if (m.from != m.target)
      erase_field(body, m.from);
  for (size_t i = 0; i < mapping.size(); ++i)
    if (values[i])
      body[mapping[i].target] = transform(mapping[i], std::move(*values[i]));
}

} // namespace th::gateway
