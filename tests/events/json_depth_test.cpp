// The nesting bound checked before JSON from outside is parsed, and UTF-8-safe cuts.
#include "events/json_depth.hpp"
#include "events/utf8.hpp"

#include <gtest/gtest.h>

namespace th {
namespace {

TEST(JsonDepth, CountsArraysAndObjectsAndNamesTheTopLevelField) {
  EXPECT_TRUE(check_json_depth(R"({"a":1})", 1).ok);
  EXPECT_EQ(check_json_depth(R"({"a":[{"b":[]}]})").depth, 4u);
  auto deep = check_json_depth(R"({"ok":[1],"deep":[[[[1]]]]})", 3);
  EXPECT_FALSE(deep.ok);
  EXPECT_EQ(deep.field, "deep");
  // Brackets and quotes inside strings do not count.
  EXPECT_TRUE(check_json_depth(R"({"a":"[[[[\"[[[[","b":"\\"})", 1).ok);
  EXPECT_EQ(check_json_depth(std::string(100'000, '['), 64).field, "");
  EXPECT_FALSE(check_json_depth(std::string(100'000, '['), 64).ok);
  // A top-level array has no field.
  EXPECT_EQ(check_json_depth("[[[1]]]", 2).field, "");
}

TEST(Utf8Prefix, CutsOnACharacterBoundary) {
  std::string text = std::string(63, 'a') + "\xc3\xa9z"; // é spans bytes 63 and 64
  EXPECT_EQ(utf8_prefix(text, 64), std::string(63, 'a'));
  EXPECT_EQ(utf8_prefix(text, 65), std::string(63, 'a') + "\xc3\xa9");
  EXPECT_EQ(utf8_prefix("\xe2\x82\xac", 2), "");
  EXPECT_EQ(utf8_prefix("short", 64), "short");
}

} // namespace
} // namespace th
