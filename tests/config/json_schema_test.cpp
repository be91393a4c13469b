#include "config/json_schema.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace {

using nlohmann::json;

const char *schema_text = R"({
  "type": "object",
  "required": ["name"],
  "additionalProperties": false,
  "properties": {
    "name": {"type": "string"},
    "size": {"type": "integer", "minimum": 1, "maximum": 10},
    "mode": {"enum": ["fast", "slow"]},
    "items": {"type": "array", "items": {"$ref": "#/definitions/item"}}
  },
  "definitions": {
    "item": {"type": "object", "properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}}}
  }
})";

TEST(JsonSchema, ValidDocumentHasNoViolations) {
  auto schema = th::JsonSchema::parse(schema_text);
  EXPECT_TRUE(schema.validate(json::parse(R"({"name":"x","size":3,"items":[{"id":"ab"}]})")).empty());
}

TEST(JsonSchema, ViolationsCarryPointersAndReadableMessages) {
  auto schema = th::JsonSchema::parse(schema_text);
  auto v = schema.validate(
      json::parse(R"({"size":"3","mode":"medium","items":[{"id":"ok"},{"id":"Bad1"}],"extra":1})"));
  std::map<std::string, std::string> by_pointer;
  for (auto &violation : v)
    by_pointer[violation.pointer] = violation.message;
  EXPECT_EQ(by_pointer["/name"], "missing required property 'name'");
  EXPECT_EQ(by_pointer["/size"], "expected integer, got string");
  EXPECT_EQ(by_pointer["/mode"], "must be one of: fast, slow");
  EXPECT_EQ(by_pointer["/items/1/id"], "does not match the pattern ^[a-z]+$");
  EXPECT_EQ(by_pointer["/extra"], "unknown property 'extra'");
  // valijson's summary errors ("Failed to validate item #1 ...") are folded into the real cause.
  EXPECT_EQ(v.size(), 5u);
}

TEST(JsonSchema, BoundsAreExplained) {
  auto schema = th::JsonSchema::parse(schema_text);
  auto low = schema.validate(json{{"name", "x"}, {"size", 0}});
  ASSERT_EQ(low.size(), 1u);
  EXPECT_EQ(low[0].message, "must be >= 1");
  auto high = schema.validate(json{{"name", "x"}, {"size", 11}});
  ASSERT_EQ(high.size(), 1u);
  EXPECT_EQ(high[0].message, "must be <= 10");
}

TEST(JsonSchema, RootViolationHasEmptyPointer) {
  auto schema = th::JsonSchema::parse(schema_text);
  auto v = schema.validate(json::array());
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].pointer, "");
  EXPECT_EQ(v[0].message, "expected object, got array");
}

TEST(JsonSchema, KeysWithSlashesAreEscapedInPointers) {
  auto schema = th::JsonSchema::parse(R"({"additionalProperties": {"type": "integer"}})");
  auto v = schema.validate(json{{"a/b", "x"}});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].pointer, "/a~1b");
}

TEST(JsonSchema, ParseRejectsNonJsonAndUnusableSchemas) {
  EXPECT_THROW(th::JsonSchema::parse("{not json"), std::invalid_argument);
  EXPECT_THROW(th::JsonSchema::parse("42"), std::invalid_argument);
  EXPECT_THROW(th::JsonSchema::parse(R"({"type": "integr"})"), std::invalid_argument);
  EXPECT_THROW(th::JsonSchema::parse(R"({"minimum": "five"})"), std::invalid_argument);
  try {
    th::JsonSchema::parse("{not json");
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
  }
}

TEST(JsonSchema, BooleanSchemas) {
  EXPECT_TRUE(th::JsonSchema::parse("true").validate(json{{"any", 1}}).empty());
  EXPECT_FALSE(th::JsonSchema::parse("false").validate(json{{"any", 1}}).empty());
}

TEST(JsonSchema, ValidateIsSafeFromManyThreads) {
  auto schema = th::JsonSchema::parse(schema_text);
  json good = json::parse(R"({"name":"x","items":[{"id":"abc"}]})");
  json bad = json::parse(R"({"name":"x","items":[{"id":"ABC"}]})");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!schema.validate(good).empty())
          ++wrong;
        auto v = schema.validate(bad);
        if (v.size() != 1 || v[0].pointer != "/items/0/id")
          ++wrong;
      }
    });
  for (auto &thread : threads)
    thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

} // namespace
