#include "config/yaml_document.hpp"

#include "config/json_pointer.hpp"
#include "events/utf8.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <regex>

namespace th {

using nlohmann::json;

json resolve_plain_scalar(const std::string &text) {
  static const std::regex decimal(R"([-+]?[0-9]+)");
  static const std::regex octal(R"(0o[0-7]+)");
  static const std::regex hex(R"(0x[0-9a-fA-F]+)");
  static const std::regex floating(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");

  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    return nullptr;
  if (text == "true" || text == "True" || text == "TRUE")
    return true;
  if (text == "false" || text == "False" || text == "FALSE")
    return false;
  if (std::regex_match(text, decimal)) {
    const char *begin = text.data() + (text[0] == '+' ? 1 : 0);
    int64_t value = 0;
    if (auto r = std::from_chars(begin, text.data() + text.size(), value); r.ec == std::errc())
      return value;
    uint64_t big = 0;
    if (auto r = std::from_chars(begin, text.data() + text.size(), big); r.ec == std::errc())
      return big;
    return std::strtod(text.c_str(), nullptr); // too large for 64 bits
  }
  if (std::regex_match(text, octal) || std::regex_match(text, hex)) {
    uint64_t value = 0;
    int base = text[1] == 'o' ? 8 : 16;
    if (auto r = std::from_chars(text.data() + 2, text.data() + text.size(), value, base);
        r.ec == std::errc())
      return value <= static_cast<uint64_t>(INT64_MAX) ? json(static_cast<int64_t>(value)) : json(value);
    return text;
  }
  if (std::regex_match(text, floating))
    return std::strtod(text.c_str(), nullptr);
  return text;
}

namespace {

const std::string core_tag = "tag:yaml.org,2002:";

class Reader {
public:
  Reader(const std::string &file, const EnvLookup &env, const YamlLimits &limits, YamlDocument &out)
      : file_(file), env_(env), limits_(limits), out_(out) {}

  json convert(const YAML::Node &node, const std::string &pointer, const std::string &path,
               const YAML::Mark &where) {
    record(pointer, path, where);
    charge(path, where, pointer.size());
    switch (node.Type()) {
    case YAML::NodeType::Map: {
      Nesting nesting(*this, path, where);
      return convert_map(node, pointer, path);
    }
    case YAML::NodeType::Sequence: {
      Nesting nesting(*this, path, where);
      json array = json::array();
      size_t index = 0;
      for (const YAML::Node &item : node) {
        YAML::Mark mark = usable(item.Mark()) && !item.IsNull() ? item.Mark() : where;
        array.push_back(
            convert(item, pointer + "/" + std::to_string(index), yaml_path_index(path, index), mark));
        ++index;
      }
      return array;
    }
    case YAML::NodeType::Scalar: {
      json value = convert_scalar(node, pointer);
      if (value.is_string())
        charge(path, where, value.get_ref<const std::string &>().size());
      return value;
    }
    default:
      return nullptr;
    }
  }

private:
  // One more value of `bytes` of text (its key path included): stops at a limit, naming where.
  void charge(const std::string &path, const YAML::Mark &where, size_t bytes) {
    text_bytes_ += bytes;
    if (++values_ > limits_.max_values)
      throw ConfigErrors({{location(path, where), "more than " + std::to_string(limits_.max_values) +
                                                      " values once aliases are expanded (an alias bomb?)"}});
    if (text_bytes_ > limits_.max_text_bytes)
      throw ConfigErrors(
          {{location(path, where), "more than " + std::to_string(limits_.max_text_bytes) +
                                       " bytes of text once aliases and ${VAR} are expanded"}});
  }

  // Depth of the mapping or sequence being read; the conversion recurses, so it is bounded.
  class Nesting {
  public:
    Nesting(Reader &reader, const std::string &path, const YAML::Mark &where) : reader_(reader) {
      if (++reader_.depth_ > reader_.limits_.max_depth)
        throw ConfigErrors({{reader_.location(path, where),
                             "nested deeper than " + std::to_string(reader_.limits_.max_depth) + " levels"}});
    }
    ~Nesting() { --reader_.depth_; }
    Nesting(const Nesting &) = delete;
    Nesting &operator=(const Nesting &) = delete;

  private:
    Reader &reader_;
  };

  static bool usable(const YAML::Mark &m) { return m.line >= 0 && m.column >= 0; }
  static bool before(const YAML::Mark &a, const YAML::Mark &b) {
    return a.line < b.line || (a.line == b.line && a.column < b.column);
  }

  SourceLocation location(const std::string &path, const YAML::Mark &mark) const {
    if (!usable(mark))
      return {file_, path, 1, 1};
    return {file_, path, mark.line + 1, mark.column + 1};
  }

  void record(const std::string &pointer, const std::string &path, const YAML::Mark &mark) {
    out_.locations[pointer] = location(path, mark);
  }

  // Where a mapping's value is reported: a scalar at itself; a collection, an empty value or an
  // alias (whose mark is the anchor, earlier in the file) at its key.
  static YAML::Mark value_mark(const YAML::Node &key, const YAML::Node &value) {
    if (value.IsScalar() && usable(value.Mark()) && !before(value.Mark(), key.Mark()))
      return value.Mark();
    return key.Mark();
  }

  json convert_map(const YAML::Node &node, const std::string &pointer, const std::string &path) {
    json object = json::object();
    std::map<std::string, int> first_line;
    std::vector<YAML::Node> merges;
    for (auto it = node.begin(); it != node.end(); ++it) {
      YAML::Node key = it->first; // copies: the iterator hands out temporaries
      YAML::Node value = it->second;
      if (!key.IsScalar() && !key.IsNull()) {
        out_.errors.push_back({location(path, key.Mark()), "mapping keys must be scalars"});
        continue;
      }
      std::string name = key.IsNull() ? "null" : key.Scalar(); // JSON keys are text
      if (name == "<<" && key.Tag() == "?") {
        merges.push_back(value);
        continue;
      }
      std::string child_pointer = pointer + "/" + escape_pointer_token(name);
      std::string child_path = yaml_path_key(path, name);
      if (auto seen = first_line.find(name); seen != first_line.end()) {
        out_.errors.push_back(
            {location(child_path, key.Mark()),
             "duplicate key '" + name + "' (first at line " + std::to_string(seen->second) + ")"});
        continue;
      }
      first_line[name] = key.Mark().line + 1;
      object[name] = convert(value, child_pointer, child_path, value_mark(key, value));
    }
    // Merge keys: keys written in this mapping win over merged ones; earlier merges win over later.
    for (const YAML::Node &merge : merges) {
      std::vector<YAML::Node> sources;
      if (merge.IsMap())
        sources.push_back(merge);
      if (merge.IsSequence())
        for (const YAML::Node &s : merge)
          sources.push_back(s);
      for (const YAML::Node &source : sources) {
        if (!source.IsMap()) {
          out_.errors.push_back(
              {location(path, merge.Mark()), "a '<<' merge takes a mapping or a list of mappings"});
          continue;
        }
        for (auto it = source.begin(); it != source.end(); ++it) {
          YAML::Node key = it->first;
          YAML::Node value = it->second;
          if (!key.IsScalar())
            continue;
          const std::string &name = key.Scalar();
          if (object.contains(name))
            continue;
          object[name] = convert(value, pointer + "/" + escape_pointer_token(name), yaml_path_key(path, name),
                                 value_mark(key, value));
        }
      }
    }
    return object;
  }

  json convert_scalar(const YAML::Node &node, const std::string &pointer) {
    std::string text = node.Scalar();
    const std::string &tag = node.Tag();
    bool plain = tag == "?";
    bool explicit_string = tag == "!" || tag == core_tag + "str";
    if (text.find('$') == std::string::npos) {
      if (plain || (!explicit_string && tag.rfind(core_tag, 0) == 0))
        return resolve_plain_scalar(text);
      return text;
    }
    EnvExpansion expanded = expand_env(text, env_);
    for (std::string &error : expanded.errors)
      out_.errors.push_back({out_.locations[pointer], std::move(error)});
    if (!expanded.errors.empty())
      out_.unexpanded.insert(pointer);
    // An empty result stays "" (not YAML's null): `token: ${TOKEN:-}` means an empty token.
    if (plain && expanded.whole_reference && !expanded.text.empty())
      return resolve_plain_scalar(expanded.text);
    return expanded.text;
  }

  const std::string &file_;
  const EnvLookup &env_;
  const YamlLimits &limits_;
  YamlDocument &out_;
  size_t values_ = 0;
  size_t text_bytes_ = 0;
  size_t depth_ = 0;
};

} // namespace

YamlDocument read_yaml_document(std::string_view text, const std::string &file, const EnvLookup &env,
                                const YamlLimits &limits) {
  if (text.size() > limits.max_document_bytes)
    throw ConfigErrors({{{file, "", 0, 0},
                         "larger than " + std::to_string(limits.max_document_bytes) +
                             " bytes, the most a deployment file may hold"}});
  if (size_t at = utf8_invalid_at(text); at != std::string_view::npos) {
    // Every later step (keys as JSON, messages, logs) needs text: refuse the bytes, saying where.
    const std::string_view before = text.substr(0, at);
    const int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    const size_t line_start = before.rfind('\n');
    const int column = 1 + static_cast<int>(at - (line_start == std::string_view::npos ? 0 : line_start + 1));
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text[at])));
    throw ConfigErrors({{{file, "", line, column}, std::string("not valid UTF-8 (byte ") + byte + ")"}});
  }
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception &e) {
    SourceLocation where{file, "", e.mark.line >= 0 ? e.mark.line + 1 : 0,
                         e.mark.column >= 0 ? e.mark.column + 1 : 0};
    throw ConfigErrors({{where, "YAML syntax error: " + e.msg}});
  }
  YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
  YamlDocument out;
  Reader reader(file, env, limits, out);
  out.value = reader.convert(root, "", "", root.Mark());
  // A second document would be silently ignored: say so instead.
  if (documents.size() > 1) {
    const YAML::Mark mark = documents[1].Mark();
    out.errors.push_back(
        {{file, "", mark.line >= 0 ? mark.line + 1 : 0, mark.column >= 0 ? mark.column + 1 : 0},
         "a deployment file holds one YAML document; found " + std::to_string(documents.size())});
  }
  return out;
}

} // namespace th
