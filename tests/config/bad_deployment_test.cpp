// The bad-deployment matrix: each fixture in bad/ must fail with its message at its file, YAML
// path, line and column. Plugin-level problems (unknown plugin, params against a plugin's schema)
// are covered by the loader's tests with real plugins.
#include "config/deployment.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

struct BadCase {
  const char *fixture;
  const char *message; // a substring of the error's message
  const char *yaml_path;
  int line;
  int column;
};

std::ostream &operator<<(std::ostream &os, const BadCase &c) {
  return os << c.fixture;
}

std::string fixture_path(const char *name) {
  return std::string(TRADEHOST_TEST_DATA_DIR) + "/bad/" + name;
}

class BadDeployment : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadDeployment, FailsWithMessageAndLocation) {
  const BadCase &c = GetParam();
  std::string path = fixture_path(c.fixture);
  try {
    th::load_deployment(path);
    FAIL() << c.fixture << " loaded but should not";
  } catch (const th::ConfigErrors &e) {
    ASSERT_EQ(e.errors().size(), 1u) << e.what();
    const th::ConfigError &error = e.errors().front();
    EXPECT_NE(error.message.find(c.message), std::string::npos) << "got: " << error.message;
    EXPECT_EQ(error.where.file, path);
    EXPECT_EQ(error.where.yaml_path, c.yaml_path);
    EXPECT_EQ(error.where.line, c.line);
    EXPECT_EQ(error.where.column, c.column);
    // The one-line form tools and editors read: FILE:LINE:COL: PATH: message.
    std::string expected_prefix = path + ":" + std::to_string(c.line) + ":" + std::to_string(c.column) + ": ";
    EXPECT_EQ(error.to_string().rfind(expected_prefix, 0), 0u) << error.to_string();
  }
}

const BadCase bad_cases[] = {
    {"string_for_integer.yaml", "expected integer, got string", "bus.queue_capacity", 5, 19},
    {"list_for_object.yaml", "expected object, got array", "bus", 3, 1},
    {"missing_plugin_dirs.yaml", "missing required property 'plugin_dirs'", "plugin_dirs", 2, 1},
    {"missing_strategy_plugin.yaml", "missing required property 'plugin'", "agents[0].strategy.plugin", 5, 5},
    {"unknown_top_level_key.yaml", "unknown property 'agnets' (did you mean 'agents'?)", "agnets", 3, 1},
    {"unknown_agent_key.yaml", "unknown property 'instrument' (did you mean 'instruments'?)",
     "agents[0].instrument", 6, 5},
    {"bad_bus_kind.yaml", "must be one of: embedded, jetstream", "bus.kind", 4, 9},
    {"bad_agent_id.yaml", "does not match the pattern ^[A-Za-z0-9_.-]{1,64}$", "agents[0].id", 4, 9},
    {"duplicate_agent_id.yaml", "duplicate agent id 'momentum' (first used by agents[0].id at line 4)",
     "agents[1].id", 6, 9},
    {"duplicate_risk_id.yaml", "duplicate risk id 'limits' (first used by risk[0].id at line 4)",
     "risk[2].id", 8, 9},
    {"duplicate_executor_id.yaml", "duplicate executor id 'sim'", "executors[1].id", 5, 10},
    {"missing_env_var.yaml", "environment variable TRADEHOST_TEST_SURELY_UNSET_VARIABLE is not set",
     "data_dir", 3, 11},
    {"bad_yaml_syntax.yaml", "YAML syntax error", "", 6, 7},
    {"jetstream_without_section.yaml", "bus kind 'jetstream' needs a bus.jetstream section", "bus.kind", 4,
     9},
    {"empty_plugin_dirs.yaml", "must have at least 1 item(s)", "plugin_dirs", 2, 1},
    {"wrong_version.yaml", "must be 1", "version", 1, 10},
    {"bad_logging_level.yaml", "must be one of: debug, info, warn, error", "logging.level", 4, 10},
    {"params_not_object.yaml", "expected object, got array", "agents[0].strategy.params", 7, 7},
    {"queue_capacity_too_small.yaml", "must be >= 16", "bus.queue_capacity", 3, 23},
    {"duplicate_yaml_key.yaml", "duplicate key 'metrics' (first at line 3)", "metrics", 4, 1},
    {"env_default_wrong_type.yaml", "expected integer, got string", "bus.queue_capacity", 4, 19},
    {"instrument_not_string.yaml", "expected string, got integer", "agents[0].instruments[1]", 8, 9},
    {"quoted_boolean.yaml", "expected boolean, got string", "agents[0].enabled", 6, 14},
    {"stage_without_id.yaml", "missing required property 'id'", "audit[0].id", 4, 5},
    {"unterminated_reference.yaml", "unterminated '${'", "name", 3, 7},
    {"not_a_mapping.yaml", "expected object, got array", "", 1, 1},
};

INSTANTIATE_TEST_SUITE_P(Matrix, BadDeployment, ::testing::ValuesIn(bad_cases),
                         [](const ::testing::TestParamInfo<BadCase> &info) {
                           std::string name = info.param.fixture;
                           name = name.substr(0, name.find('.'));
                           return name;
                         });

TEST(BadDeploymentMatrix, EveryFixtureIsInTheTable) {
  size_t fixtures = 0;
  for (auto &entry : std::filesystem::directory_iterator(std::string(TRADEHOST_TEST_DATA_DIR) + "/bad")) {
    if (entry.path().extension() != ".yaml")
      continue;
    ++fixtures;
    std::string name = entry.path().filename().string();
    bool listed = std::any_of(std::begin(bad_cases), std::end(bad_cases),
                              [&](const BadCase &c) { return name == c.fixture; });
    EXPECT_TRUE(listed) << name << " has no expectation";
  }
  EXPECT_GE(fixtures, 15u);
}

TEST(BadDeploymentMatrix, AllErrorsAreReportedInLineOrder) {
  const char *yaml = R"(version: 2
plugin_dirs: []
bus: {kind: kafka}
agents:
  - id: a
    strategy: {plugin: momentum}
  - id: a
    strategy: {plugin: momentum, params: 5}
logging: {level: loud}
)";
  try {
    th::load_deployment_text(yaml, "many.yaml");
    FAIL() << "loaded";
  } catch (const th::ConfigErrors &e) {
    std::vector<std::pair<int, std::string>> got;
    for (auto &error : e.errors())
      got.emplace_back(error.where.line, error.where.yaml_path);
    std::vector<std::pair<int, std::string>> expected = {{1, "version"},
                                                         {2, "plugin_dirs"},
                                                         {3, "bus.kind"},
                                                         {7, "agents[1].id"},
                                                         {8, "agents[1].strategy.params"},
                                                         {9, "logging.level"}};
    EXPECT_EQ(got, expected) << e.what();
    // what() carries every error, one per line.
    EXPECT_NE(std::string(e.what()).find("many.yaml:9:"), std::string::npos);
  }
}

TEST(BadDeploymentMatrix, ExpandedSecretsDoNotAppearInErrors) {
  ::setenv("TRADEHOST_TEST_SECRET_VALUE", "hunter2-secret", 1);
  try {
    th::load_deployment_text(
        "version: 1\nplugin_dirs: [p]\nmetrics:\n  enabled: ${TRADEHOST_TEST_SECRET_VALUE}\n", "secret.yaml");
    FAIL() << "loaded";
  } catch (const th::ConfigErrors &e) {
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].message, "expected boolean, got string");
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
  ::unsetenv("TRADEHOST_TEST_SECRET_VALUE");
}

TEST(BadDeploymentMatrix, UnreadableFileNamesTheFile) {
  std::string path = std::string(TRADEHOST_TEST_DATA_DIR) + "/bad/does-not-exist.yaml";
  try {
    th::load_deployment(path);
    FAIL() << "loaded";
  } catch (const th::ConfigErrors &e) {
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].where.file, path);
    EXPECT_NE(e.errors()[0].message.find("cannot read the deployment"), std::string::npos);
  }
}

} // namespace
