// JSON Schema (draft 7) validation on valijson, shared by the deployment loader, the plugin
// loader (plugin params schemas) and the gateway (signal schema).
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace th {

struct SchemaViolation {
  std::string pointer; // JSON pointer of the offending value in the document, "" for the root
                       // (a missing required property or an unknown one: that member's pointer)
  std::string message; // what is wrong, e.g. "expected integer, got string"
};

class JsonSchema {
public:
  // Throws std::invalid_argument saying why when the text is not JSON or not a usable schema.
  static JsonSchema parse(std::string_view schema_text);
  static JsonSchema from_json(const nlohmann::json &schema);

  // Every violation found; empty when the document is valid. Thread-safe (const).
  std::vector<SchemaViolation> validate(const nlohmann::json &document) const;

  JsonSchema(JsonSchema &&) noexcept;
  JsonSchema &operator=(JsonSchema &&) noexcept;
  ~JsonSchema();

private:
  struct Impl;
  explicit JsonSchema(std::unique_ptr<Impl>);
  std::unique_ptr<Impl> impl_;
};

} // namespace th
