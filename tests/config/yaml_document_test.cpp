#include "config/json_pointer.hpp"
#include "config/yaml_document.hpp"

#include <gtest/gtest.h>

#include <map>

namespace {

using nlohmann::json;

th::EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string &name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

th::YamlDocument read(const std::string &text, std::map<std::string, std::string> vars = {}) {
  return th::read_yaml_document(text, "t.yaml", fake_env(std::move(vars)));
}

TEST(YamlDocument, PlainScalarsTakeCoreTypes) {
  auto doc = read(R"(i: 42
neg: -7
hex: 0x1F
oct: 0o17
f: 2.5
exp: 1e3
t: true
F: False
n: ~
empty:
s: hello
yes_is_text: yes
big: 99999999999999999999
)");
  EXPECT_EQ(doc.value["i"], json(42));
  EXPECT_TRUE(doc.value["i"].is_number_integer());
  EXPECT_EQ(doc.value["neg"], json(-7));
  EXPECT_EQ(doc.value["hex"], json(31));
  EXPECT_EQ(doc.value["oct"], json(15));
  EXPECT_TRUE(doc.value["f"].is_number_float());
  EXPECT_DOUBLE_EQ(doc.value["f"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(doc.value["exp"].get<double>(), 1000.0);
  EXPECT_EQ(doc.value["t"], json(true));
  EXPECT_EQ(doc.value["F"], json(false));
  EXPECT_TRUE(doc.value["n"].is_null());
  EXPECT_TRUE(doc.value["empty"].is_null());
  EXPECT_EQ(doc.value["s"], json("hello"));
  EXPECT_EQ(doc.value["yes_is_text"], json("yes")); // YAML 1.2: not a boolean
  EXPECT_TRUE(doc.value["big"].is_number_float());
}

// Found by fuzz_deployment: a key with invalid UTF-8 made the JSON path writer throw, uncaught.
TEST(YamlDocument, InvalidUtf8IsAConfigErrorWithItsPlace) {
  try {
    read("version: 1\nplugin_dir\xff\xffs: [./plugins]\n");
    FAIL() << "accepted invalid UTF-8";
  } catch (const th::ConfigErrors &e) {
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].where.line, 2);
    EXPECT_EQ(e.errors()[0].where.column, 11);
    EXPECT_NE(e.errors()[0].message.find("not valid UTF-8 (byte 0xFF)"), std::string::npos)
        << e.errors()[0].message;
  }
  EXPECT_NO_THROW(read("name: \"caf\xc3\xa9 \xe2\x82\xac\"\n")); // valid multi-byte text
}

TEST(YamlDocument, QuotedAndBlockScalarsStayStrings) {
  auto doc = read("a: \"123\"\nb: 'true'\nc: !!str 5\nd: |\n  7\ne: ''\n");
  EXPECT_EQ(doc.value["a"], json("123"));
  EXPECT_EQ(doc.value["b"], json("true"));
  EXPECT_EQ(doc.value["c"], json("5"));
  EXPECT_EQ(doc.value["d"], json("7\n"));
  EXPECT_EQ(doc.value["e"], json(""));
}

TEST(YamlDocument, LocationsGiveYamlPathLineAndColumn) {
  auto doc = read(R"(version: 1
agents:
  - id: a
    strategy: {plugin: p}
  - id: b
    strategy:
      plugin: momentum
      params:
        lookback: 20
)");
  auto at = [&](const std::string &pointer) { return doc.locations.at(pointer); };
  EXPECT_EQ(at("/agents/1/strategy/params/lookback").yaml_path, "agents[1].strategy.params.lookback");
  EXPECT_EQ(at("/agents/1/strategy/params/lookback").line, 9);
  EXPECT_EQ(at("/agents/1/strategy/params/lookback").column, 19); // the value, 1-based
  EXPECT_EQ(at("/agents/1/strategy/params/lookback").file, "t.yaml");
  // A collection is located at the key that names it.
  EXPECT_EQ(at("/agents/1/strategy/params").line, 8);
  EXPECT_EQ(at("/agents/1/strategy/params").column, 7);
  EXPECT_EQ(at("/agents").line, 2);
  // A sequence item at its first content.
  EXPECT_EQ(at("/agents/1").yaml_path, "agents[1]");
  EXPECT_EQ(at("/agents/1").line, 5);
  EXPECT_EQ(at("/agents/1").column, 5);
  EXPECT_EQ(at("/agents/0/strategy/plugin").line, 4);
  EXPECT_EQ(at("/agents/0/strategy/plugin").column, 24);
  EXPECT_EQ(at("").line, 1);
}

TEST(YamlDocument, WholeReferenceIsRetypedOnlyWhenPlain) {
  auto doc = read("cap: ${CAP:-1024}\nquoted: \"${CAP:-1024}\"\nmixed: ${CAP:-1}0\non: ${FLAG}\nset: ${SET}\n"
                  "empty: ${UNSET:-}\nnull: ${UNSET:-null}\n",
                  {{"FLAG", "true"}, {"SET", "2.5"}});
  EXPECT_EQ(doc.value["cap"], json(1024));
  EXPECT_TRUE(doc.value["cap"].is_number_integer());
  EXPECT_EQ(doc.value["quoted"], json("1024"));
  EXPECT_EQ(doc.value["mixed"], json("10"));
  EXPECT_EQ(doc.value["on"], json(true));
  EXPECT_DOUBLE_EQ(doc.value["set"].get<double>(), 2.5);
  EXPECT_EQ(doc.value["empty"], json("")); // an empty expansion is an empty string, not null
  EXPECT_TRUE(doc.value["null"].is_null());
  EXPECT_TRUE(doc.errors.empty()) << doc.errors.at(0).to_string();
}

TEST(YamlDocument, MissingVariableIsAnErrorAtItsLocation) {
  auto doc = read("a: 1\nnested:\n  key: prefix-${NOPE}\n");
  ASSERT_EQ(doc.errors.size(), 1u);
  EXPECT_EQ(doc.errors[0].where.yaml_path, "nested.key");
  EXPECT_EQ(doc.errors[0].where.line, 3);
  EXPECT_EQ(doc.errors[0].where.column, 8);
  EXPECT_NE(doc.errors[0].message.find("NOPE"), std::string::npos);
  EXPECT_EQ(doc.unexpanded.count("/nested/key"), 1u);
}

TEST(YamlDocument, DuplicateKeysAreErrors) {
  auto doc = read("a: 1\nb: 2\na: 3\n");
  ASSERT_EQ(doc.errors.size(), 1u);
  EXPECT_EQ(doc.errors[0].message, "duplicate key 'a' (first at line 1)");
  EXPECT_EQ(doc.errors[0].where.line, 3);
  EXPECT_EQ(doc.value["a"], json(1));
}

TEST(YamlDocument, MergeKeysAndAliases) {
  auto doc = read(R"(base: &base {lookback: 20, threshold: 0.5}
params:
  <<: *base
  threshold: 0.7
copy: *base
)");
  EXPECT_EQ(doc.value["params"], (json{{"lookback", 20}, {"threshold", 0.7}}));
  EXPECT_EQ(doc.value["copy"], (json{{"lookback", 20}, {"threshold", 0.5}}));
  // An alias is reported where it is used, not at the anchor.
  EXPECT_EQ(doc.locations.at("/copy").line, 5);
}

TEST(YamlDocument, SyntaxErrorCarriesTheLine) {
  try {
    read("a: 1\nb: [1, 2\nc: 3\n");
    FAIL() << "parsed";
  } catch (const th::ConfigErrors &e) {
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].where.file, "t.yaml");
    EXPECT_GE(e.errors()[0].where.line, 2);
    EXPECT_NE(e.errors()[0].message.find("YAML syntax error"), std::string::npos);
  }
  try {
    read("a: 1\n  b: 2\n");
    FAIL() << "parsed";
  } catch (const th::ConfigErrors &e) {
    EXPECT_EQ(e.errors()[0].where.line, 2);
  }
}

TEST(YamlDocument, SecondDocumentIsAnError) {
  auto doc = read("a: 1\n---\nb: 2\n");
  EXPECT_EQ(doc.value, (json{{"a", 1}}));
  ASSERT_EQ(doc.errors.size(), 1u);
  EXPECT_EQ(doc.errors[0].where.line, 3);
  EXPECT_NE(doc.errors[0].message.find("one YAML document"), std::string::npos);
}

TEST(YamlDocument, EmptyTextIsNull) {
  auto doc = read("# only a comment\n");
  EXPECT_TRUE(doc.value.is_null());
  EXPECT_TRUE(doc.errors.empty());
  EXPECT_EQ(doc.locations.at("").line, 1);
}

// Issue 14 finding 9: nine lines of anchors stand for 10^9 values; reading must stop at the value
// limit with an error naming the place, not copy until memory runs out.
std::string billion_laughs() {
  std::string text = "version: 1\nplugin_dirs: [/tmp]\nl0: &l0 [\"lol\"]\n";
  for (int level = 1; level <= 9; ++level) {
    std::string prev = "*l" + std::to_string(level - 1);
    text += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [" + prev;
    for (int i = 1; i < 10; ++i)
      text += ", " + prev;
    text += "]\n";
  }
  return text + "name: *l9\n";
}

std::string error_of(const std::string &text, const th::YamlLimits &limits = {}) {
  try {
    th::read_yaml_document(text, "t.yaml", fake_env({}), limits);
  } catch (const th::ConfigErrors &e) {
    return e.errors().at(0).to_string();
  }
  return "";
}

TEST(YamlDocument, AnAliasBombStopsAtTheValueLimit) {
  std::string error = error_of(billion_laughs());
  EXPECT_NE(error.find("more than 100000 values once aliases are expanded"), std::string::npos) << error;
  EXPECT_EQ(error.rfind("t.yaml:", 0), 0u) << error;
}

TEST(YamlDocument, AliasesOfALongStringStopAtTheTextLimit) {
  std::string text = "a: &a " + std::string(1 << 20, 'x') + "\nb: [";
  for (int i = 0; i < 20; ++i)
    text += std::string(i ? ", " : "") + "*a";
  std::string error = error_of(text + "]\n");
  EXPECT_NE(error.find("bytes of text once aliases and ${VAR} are expanded"), std::string::npos) << error;
}

TEST(YamlDocument, DeepNestingIsRefusedWithoutRecursingOnIt) {
  EXPECT_NE(
      error_of("a: " + std::string(65, '[') + std::string(65, ']') + "\n").find("nested deeper than 64"),
      std::string::npos);
  EXPECT_TRUE(read("a: " + std::string(60, '[') + std::string(60, ']') + "\n").errors.empty());
  // Far deeper than the converter's limit: yaml-cpp's parser refuses it first, as a syntax error.
  EXPECT_NE(error_of(std::string(100000, '[')).find("YAML syntax error"), std::string::npos);
}

TEST(YamlDocument, AnOversizedDocumentIsRefusedBeforeParsing) {
  th::YamlLimits small;
  small.max_document_bytes = 64;
  std::string error = error_of("a: " + std::string(100, 'x') + "\n", small);
  EXPECT_NE(error.find("larger than 64 bytes"), std::string::npos) << error;
}

TEST(YamlDocument, ReferencesCountTowardsTheTextLimit) {
  th::YamlLimits small;
  small.max_text_bytes = 1000;
  auto env = fake_env({{"BIG", std::string(600, 'y')}});
  EXPECT_THROW(th::read_yaml_document("a: ${BIG}\nb: ${BIG}\n", "t.yaml", env, small), th::ConfigErrors);
  EXPECT_NO_THROW(th::read_yaml_document("a: ${BIG}\n", "t.yaml", env, small));
}

TEST(JsonPointer, YamlPathsOfPointers) {
  json doc = json::parse(R"({"agents":[{"strategy":{"params":{"a.b":1,"x/y":2}}}],"m":{"0":true}})");
  EXPECT_EQ(th::yaml_path_of(doc, ""), "");
  EXPECT_EQ(th::yaml_path_of(doc, "/agents/0/strategy/params"), "agents[0].strategy.params");
  EXPECT_EQ(th::yaml_path_of(doc, "/agents/0/strategy/params/a.b"), "agents[0].strategy.params[\"a.b\"]");
  EXPECT_EQ(th::yaml_path_of(doc, "/agents/0/strategy/params/x~1y"), "agents[0].strategy.params[\"x/y\"]");
  EXPECT_EQ(th::yaml_path_of(doc, "/m/0"), "m.0");                  // a key that looks like an index
  EXPECT_EQ(th::yaml_path_of(doc, "/agents/3/id"), "agents[3].id"); // past the end
  EXPECT_EQ(th::split_pointer("/a~1b/c~0d"), (std::vector<std::string>{"a/b", "c~d"}));
  EXPECT_EQ(th::parent_pointer("/a/b"), "/a");
  EXPECT_EQ(th::parent_pointer("/a"), "");
}

} // namespace
