#include "config/env_expand.hpp"

#include <gtest/gtest.h>

#include <map>

namespace {

th::EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string &name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

const th::EnvLookup env =
    fake_env({{"HOST", "10.0.0.1"}, {"PORT", "8001"}, {"EMPTY", ""}, {"REF", "${HOST}"}});

TEST(EnvExpand, ReplacesSetVariables) {
  auto r = th::expand_env("${HOST}:${PORT}", env);
  EXPECT_EQ(r.text, "10.0.0.1:8001");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_FALSE(r.whole_reference);
}

TEST(EnvExpand, DefaultUsedWhenUnsetOrEmpty) {
  EXPECT_EQ(th::expand_env("${MISSING:-./var}", env).text, "./var");
  EXPECT_EQ(th::expand_env("${EMPTY:-fallback}", env).text, "fallback");
  EXPECT_EQ(th::expand_env("${PORT:-9999}", env).text, "8001");
  EXPECT_EQ(th::expand_env("${MISSING:-}", env).text, "");
}

TEST(EnvExpand, EmptyVariableIsAValueWithoutDefault) {
  auto r = th::expand_env("[${EMPTY}]", env);
  EXPECT_EQ(r.text, "[]");
  EXPECT_TRUE(r.errors.empty());
}

TEST(EnvExpand, DefaultsNest) {
  EXPECT_EQ(th::expand_env("${MISSING:-${HOST}}", env).text, "10.0.0.1");
  EXPECT_EQ(th::expand_env("${MISSING:-${ALSO_MISSING:-x}}", env).text, "x");
}

TEST(EnvExpand, DoubleDollarIsALiteralDollar) {
  EXPECT_EQ(th::expand_env("pa$$word", env).text, "pa$word");
  EXPECT_EQ(th::expand_env("$${HOST}", env).text, "${HOST}");
  EXPECT_EQ(th::expand_env("cost $5", env).text, "cost $5"); // a lone $ stays
}

TEST(EnvExpand, ValuesAreNotExpandedAgain) {
  EXPECT_EQ(th::expand_env("${REF}", env).text, "${HOST}");
}

TEST(EnvExpand, MissingVariableIsAnErrorNamingIt) {
  auto r = th::expand_env("${API_KEY}", env);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("environment variable API_KEY is not set"), std::string::npos);
}

TEST(EnvExpand, EveryMissingVariableIsReported) {
  auto r = th::expand_env("${A}/${B}/${HOST}", env);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_NE(r.errors[0].find(" A "), std::string::npos);
  EXPECT_NE(r.errors[1].find(" B "), std::string::npos);
}

TEST(EnvExpand, MalformedReferences) {
  EXPECT_NE(th::expand_env("${HOST", env).errors.at(0).find("unterminated"), std::string::npos);
  EXPECT_NE(th::expand_env("${1BAD}", env).errors.at(0).find("not a variable reference"), std::string::npos);
  EXPECT_NE(th::expand_env("${}", env).errors.at(0).find("not a variable reference"), std::string::npos);
}

TEST(EnvExpand, WholeReferenceIsDetected) {
  EXPECT_TRUE(th::expand_env("${CAP:-1024}", env).whole_reference);
  EXPECT_TRUE(th::expand_env("${A:-${B}}", env).whole_reference);
  EXPECT_FALSE(th::expand_env("${A}${B}", env).whole_reference);
  EXPECT_FALSE(th::expand_env("x${A}", env).whole_reference);
  EXPECT_FALSE(th::expand_env("plain", env).whole_reference);
}

TEST(EnvExpand, ProcessEnvironmentReadsGetenv) {
  ::setenv("TRADEHOST_TEST_ENV_EXPAND", "from-process", 1);
  EXPECT_EQ(th::expand_env("${TRADEHOST_TEST_ENV_EXPAND}", th::process_environment()).text, "from-process");
  ::unsetenv("TRADEHOST_TEST_ENV_EXPAND");
  EXPECT_EQ(th::expand_env("${TRADEHOST_TEST_ENV_EXPAND}", th::process_environment()).errors.size(), 1u);
}

} // namespace
