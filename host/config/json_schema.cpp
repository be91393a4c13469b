// JsonSchema on valijson. valijson reports each failure with a context path and a generic
// description; this file turns them into JSON pointers and messages that say what was expected,
// looking the expectation up in the schema (type, enum, pattern, bounds).
#include "config/json_schema.hpp"

#include "config/json_pointer.hpp"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <algorithm>
#include <mutex>
#include <regex>

namespace th {

namespace {

using nlohmann::json;

// valijson's context ["<root>", "[agents]", "[0]", "[id]"] -> "/agents/0/id".
std::string pointer_from_context(const std::vector<std::string> &context) {
  std::string pointer;
  for (const std::string &element : context) {
    if (element == "<root>")
      continue;
    std::string_view token = element;
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']')
      token = token.substr(1, token.size() - 2);
    pointer += "/" + escape_pointer_token(token);
  }
  return pointer;
}

std::string type_name(const json &value) {
  switch (value.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::boolean:
    return "boolean";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
    return "integer";
  case json::value_t::number_float:
    return "number";
  case json::value_t::string:
    return "string";
  case json::value_t::array:
    return "array";
  case json::value_t::object:
    return "object";
  default:
    return "unknown";
  }
}

// Follows a local "$ref" ("#/definitions/x"); other refs are left as they are.
const json *resolve_ref(const json &root, const json *node) {
  for (int hops = 0; node && node->is_object() && hops < 16; ++hops) {
    auto ref = node->find("$ref");
    if (ref == node->end() || !ref->is_string())
      break;
    std::string target = ref->get<std::string>();
    if (target.rfind('#', 0) != 0)
      break;
    try {
      node = &root.at(json::json_pointer(target.substr(1)));
    } catch (const std::exception &) {
      return nullptr;
    }
  }
  return node;
}

// The sub-schema that applies at `pointer` of `document`, following properties, patternProperties,
// additionalProperties and items (not the combinators). nullptr when it cannot be told.
const json *schema_at(const json &schema, const json &document, const std::string &pointer) {
  const json *node = resolve_ref(schema, &schema);
  const json *value = &document;
  for (const std::string &token : split_pointer(pointer)) {
    if (!node || !node->is_object() || !value)
      return nullptr;
    const json *next = nullptr;
    if (value->is_array()) {
      auto items = node->find("items");
      size_t index = std::strtoul(token.c_str(), nullptr, 10);
      if (items != node->end() && items->is_object())
        next = &*items;
      if (items != node->end() && items->is_array() && index < items->size())
        next = &(*items)[index];
      value = index < value->size() ? &(*value)[index] : nullptr;
    } else if (value->is_object()) {
      auto properties = node->find("properties");
      if (properties != node->end() && properties->contains(token))
        next = &(*properties)[token];
      auto patterns = node->find("patternProperties");
      if (!next && patterns != node->end() && patterns->is_object()) {
        for (auto &[pattern, sub] : patterns->items()) {
          try {
            if (std::regex_search(token, std::regex(pattern))) {
              next = &sub;
              break;
            }
          } catch (const std::regex_error &) {
          }
        }
      }
      auto additional = node->find("additionalProperties");
      if (!next && additional != node->end() && additional->is_object())
        next = &*additional;
      auto it = value->find(token);
      value = it == value->end() ? nullptr : &*it;
    } else {
      return nullptr;
    }
    node = resolve_ref(schema, next);
  }
  return node;
}

std::string number_text(const json &n) {
  return n.dump();
}

std::string join_values(const json &values, std::string_view separator) {
  std::string out;
  for (auto &v : values) {
    if (!out.empty())
      out += separator;
    out += v.is_string() ? v.get<std::string>() : v.dump();
  }
  return out;
}

// Edit distance, for "did you mean" on unknown property names.
size_t distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string suggestion(const json *object_schema, const std::string &unknown) {
  if (!object_schema || !object_schema->contains("properties"))
    return "";
  std::string best;
  size_t best_distance = 3; // only close typos
  for (auto &[name, _] : (*object_schema)["properties"].items()) {
    size_t d = distance(unknown, name);
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

// The last '...' in a description: the property name valijson names.
std::string quoted_name(const std::string &description) {
  size_t last = description.rfind('\'');
  if (last == std::string::npos || last == 0)
    return "";
  size_t first = description.rfind('\'', last - 1);
  return first == std::string::npos ? "" : description.substr(first + 1, last - first - 1);
}

bool starts_with(const std::string &s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0;
}

// valijson's summary errors that only repeat a nested failure ("Failed to validate item #0 ...").
bool is_wrapper(const std::string &description) {
  return starts_with(description, "Failed to validate item #") ||
         starts_with(description, "Failed to validate against schema associated with property name") ||
         starts_with(description, "Failed to validate against schema associated with pattern") ||
         starts_with(description, "Failed to validate against additional properties schema") ||
         starts_with(description, "Failed to validate against child schema #") ||
         starts_with(description, "Failed to validate against dependent schema") ||
         starts_with(description, "Failed to validate against a conditional schema");
}

SchemaViolation explain(const json &schema, const json &document, const std::string &pointer,
                        const std::string &description) {
  const json *rule = schema_at(schema, document, pointer);
  const json *value = nullptr;
  try {
    value = &document.at(json::json_pointer(pointer));
  } catch (const std::exception &) {
  }
  auto has = [&](const char *key) { return rule && rule->is_object() && rule->contains(key); };

  if (starts_with(description, "Value type not permitted")) {
    std::string got = value ? type_name(*value) : "a value";
    if (has("type")) {
      const json &t = (*rule)["type"];
      return {pointer,
              "expected " + (t.is_array() ? join_values(t, " or ") : t.get<std::string>()) + ", got " + got};
    }
    return {pointer, got + " is not an allowed type here"};
  }
  if (starts_with(description, "Missing required property")) {
    std::string name = quoted_name(description);
    return {pointer + "/" + escape_pointer_token(name), "missing required property '" + name + "'"};
  }
  if (starts_with(description, "Object contains a property that could not be validated")) {
    std::string name = quoted_name(description);
    return {pointer + "/" + escape_pointer_token(name),
            "unknown property '" + name + "'" + suggestion(rule, name)};
  }
  if (starts_with(description, "Failed to match against any enum values") && has("enum"))
    return {pointer, "must be one of: " + join_values((*rule)["enum"], ", ")};
  if (starts_with(description, "Failed to match expected value set by 'const'") && has("const"))
    return {pointer, "must be " + (*rule)["const"].dump()};
  if (starts_with(description, "Failed to match regex") && has("pattern"))
    return {pointer, "does not match the pattern " + (*rule)["pattern"].get<std::string>()};
  if (starts_with(description, "Expected number greater than or equal to") && has("minimum"))
    return {pointer, "must be >= " + number_text((*rule)["minimum"])};
  if (starts_with(description, "Expected number greater than") && has("exclusiveMinimum"))
    return {pointer, "must be > " + number_text((*rule)["exclusiveMinimum"])};
  if (starts_with(description, "Expected number less than or equal to") && has("maximum"))
    return {pointer, "must be <= " + number_text((*rule)["maximum"])};
  if (starts_with(description, "Expected number less than") && has("exclusiveMaximum"))
    return {pointer, "must be < " + number_text((*rule)["exclusiveMaximum"])};
  if (starts_with(description, "Array should contain no fewer than") && has("minItems"))
    return {pointer, "must have at least " + number_text((*rule)["minItems"]) + " item(s)"};
  if (starts_with(description, "Array should contain no more than") && has("maxItems"))
    return {pointer, "must have at most " + number_text((*rule)["maxItems"]) + " item(s)"};
  if (starts_with(description, "String should be no fewer than") && has("minLength"))
    return {pointer, "must be at least " + number_text((*rule)["minLength"]) + " character(s) long"};
  if (starts_with(description, "String should be no more than") && has("maxLength"))
    return {pointer, "must be at most " + number_text((*rule)["maxLength"]) + " character(s) long"};
  if (starts_with(description, "Object should have no fewer than") && has("minProperties"))
    return {pointer, "must have at least " + number_text((*rule)["minProperties"]) + " propert(ies)"};
  if (starts_with(description, "Elements at indexes"))
    return {pointer, "items must be unique: " + description.substr(0, description.find(" violate"))};
  std::string message = description;
  if (!message.empty() && message.back() == '.')
    message.pop_back();
  return {pointer, message};
}

bool at_or_below(const std::string &pointer, const std::string &ancestor) {
  return pointer == ancestor || (starts_with(pointer, ancestor) && pointer.size() > ancestor.size() &&
                                 pointer[ancestor.size()] == '/');
}

} // namespace

struct JsonSchema::Impl {
  json schema_json; // kept for explanations
  valijson::Schema schema;

  // valijson::Validator caches compiled regexes in a non-const member: one per concurrent caller.
  mutable std::mutex pool_mutex;
  mutable std::vector<std::unique_ptr<valijson::Validator>> pool;
};

JsonSchema::JsonSchema(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonSchema::JsonSchema(JsonSchema &&) noexcept = default;
JsonSchema &JsonSchema::operator=(JsonSchema &&) noexcept = default;
JsonSchema::~JsonSchema() = default;

JsonSchema JsonSchema::parse(std::string_view schema_text) {
  json parsed;
  try {
    parsed = json::parse(schema_text);
  } catch (const json::parse_error &e) {
    throw std::invalid_argument(std::string("schema is not valid JSON: ") + e.what());
  }
  return from_json(parsed);
}

JsonSchema JsonSchema::from_json(const nlohmann::json &schema) {
  auto impl = std::make_unique<Impl>();
  // Draft 7 allows boolean schemas; valijson wants objects.
  if (schema.is_boolean())
    impl->schema_json = schema.get<bool>() ? json::object() : json{{"not", json::object()}};
  else
    impl->schema_json = schema;
  if (!impl->schema_json.is_object())
    throw std::invalid_argument("schema must be a JSON object, got " + type_name(impl->schema_json));
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(impl->schema_json);
    parser.populateSchema(adapter, impl->schema);
  } catch (const std::exception &e) {
    throw std::invalid_argument(std::string("not a usable JSON Schema: ") + e.what());
  }
  return JsonSchema(std::move(impl));
}

std::vector<SchemaViolation> JsonSchema::validate(const nlohmann::json &document) const {
  std::unique_ptr<valijson::Validator> validator;
  {
    std::lock_guard lock(impl_->pool_mutex);
    if (!impl_->pool.empty()) {
      validator = std::move(impl_->pool.back());
      impl_->pool.pop_back();
    }
  }
  if (!validator)
    validator = std::make_unique<valijson::Validator>(valijson::Validator::kStrongTypes);

  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(document);
  bool valid = validator->validate(impl_->schema, target, &results);
  {
    std::lock_guard lock(impl_->pool_mutex);
    impl_->pool.push_back(std::move(validator));
  }
  if (valid)
    return {};

  struct Raw {
    std::string pointer;
    std::string description;
  };
  std::vector<Raw> raw;
  for (const auto &error : results)
    raw.push_back({pointer_from_context(error.context), error.description});

  std::vector<SchemaViolation> out;
  for (const Raw &r : raw) {
    if (is_wrapper(r.description)) {
      bool explained_elsewhere = std::any_of(raw.begin(), raw.end(), [&](const Raw &other) {
        return &other != &r && !is_wrapper(other.description) && at_or_below(other.pointer, r.pointer);
      });
      if (explained_elsewhere)
        continue;
    }
    SchemaViolation v = explain(impl_->schema_json, document, r.pointer, r.description);
    bool duplicate = std::any_of(out.begin(), out.end(), [&](const SchemaViolation &seen) {
      return seen.pointer == v.pointer && seen.message == v.message;
    });
    if (!duplicate)
      out.push_back(std::move(v));
  }
  return out;
}

} // namespace th
