// Validates a params document against a plugin's published schema with valijson (draft 7),
// the way the host does before create().
#pragma once

#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include <string>

namespace th::test {

inline bool schema_accepts(const std::string &schema_text, const std::string &params_text) {
  const nlohmann::json schema_doc = nlohmann::json::parse(schema_text);
  const nlohmann::json params_doc = nlohmann::json::parse(params_text);
  valijson::Schema schema;
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, schema);
  valijson::Validator validator;
  valijson::adapters::NlohmannJsonAdapter params_adapter(params_doc);
  return validator.validate(schema, params_adapter, nullptr);
}

} // namespace th::test
