#include "config/deployment.hpp"
#include "config/deployment_schema.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;

const char *full_yaml = R"(version: 1
name: test
data_dir: ${TRADEHOST_TEST_DEPLOY_DATA:-./var/test}
plugin_dirs: [./build/plugins, /opt/plugins]
bus:
  kind: embedded
  queue_capacity: ${TRADEHOST_TEST_DEPLOY_CAP:-1024}
agents:
  - id: momentum_v1
    strategy:
      plugin: momentum
      params: {lookback: 20, threshold: 0.5}
    instruments: [AAPL, "BTC/*"]
  - id: mean-rev.2
    strategy: {plugin: mean_reversion}
    enabled: false
risk:
  - {id: limits, plugin: risk-limits, params: {max_position: 100}}
  - {id: kill, plugin: kill-switch}
executors:
  - id: sim
    plugin: exec-sim
audit:
  - id: jsonl
    plugin: audit-jsonl
    params: {path: audit.jsonl}
gateway: {listen: "127.0.0.1:8001", sources: {}}
admin: {token: "t0k3n"}
logging: {level: debug, file: /tmp/th.log}
metrics: {enabled: false}
auto_agents: [{plugins: ["*"]}]
plugin_allowlist: {sha256: ["0000000000000000000000000000000000000000000000000000000000000000"]}
)";

TEST(Deployment, FullDeploymentLoadsEveryField) {
  th::Deployment d = th::load_deployment_text(full_yaml, "full.yaml");
  EXPECT_EQ(d.file, "full.yaml");
  EXPECT_EQ(d.name, "test");
  EXPECT_EQ(d.data_dir, (fs::current_path() / "var/test").string());
  ASSERT_EQ(d.plugin_dirs.size(), 2u);
  EXPECT_EQ(d.plugin_dirs[0], (fs::current_path() / "build/plugins").string());
  EXPECT_EQ(d.plugin_dirs[1], "/opt/plugins");
  EXPECT_EQ(d.bus.kind, "embedded");
  EXPECT_EQ(d.bus.queue_capacity, 1024u);
  EXPECT_TRUE(d.bus.jetstream.is_object());

  ASSERT_EQ(d.agents.size(), 2u);
  EXPECT_EQ(d.agents[0].id, "momentum_v1");
  EXPECT_EQ(d.agents[0].strategy.plugin, "momentum");
  EXPECT_EQ(d.agents[0].strategy.params, (nlohmann::json{{"lookback", 20}, {"threshold", 0.5}}));
  EXPECT_EQ(d.agents[0].strategy.params_pointer, "/agents/0/strategy/params");
  EXPECT_EQ(d.agents[0].pointer, "/agents/0");
  EXPECT_EQ(d.agents[0].instruments, (std::vector<std::string>{"AAPL", "BTC/*"}));
  EXPECT_TRUE(d.agents[0].enabled);
  EXPECT_EQ(d.agents[1].id, "mean-rev.2");
  EXPECT_EQ(d.agents[1].strategy.params, nlohmann::json::object());
  EXPECT_FALSE(d.agents[1].enabled);
  EXPECT_TRUE(d.agents[1].instruments.empty());

  ASSERT_EQ(d.risk.size(), 2u); // in file order
  EXPECT_EQ(d.risk[0].id, "limits");
  EXPECT_EQ(d.risk[0].plugin.plugin, "risk-limits");
  EXPECT_EQ(d.risk[0].plugin.params["max_position"], 100);
  EXPECT_EQ(d.risk[0].plugin.params_pointer, "/risk/0/params");
  EXPECT_EQ(d.risk[1].id, "kill");
  EXPECT_EQ(d.risk[1].pointer, "/risk/1");
  ASSERT_EQ(d.executors.size(), 1u);
  EXPECT_EQ(d.executors[0].plugin.plugin, "exec-sim");
  ASSERT_EQ(d.audit.size(), 1u);
  EXPECT_EQ(d.audit[0].plugin.params["path"], "audit.jsonl");
  EXPECT_EQ(d.gateway["listen"], "127.0.0.1:8001");
  EXPECT_EQ(d.admin["token"], "t0k3n");
  EXPECT_EQ(d.logging.level, "debug");
  EXPECT_EQ(d.logging.file, "/tmp/th.log");
  EXPECT_FALSE(d.metrics.enabled);
  EXPECT_EQ(d.document["auto_agents"][0]["plugins"][0], "*");
}

TEST(Deployment, MinimalDeploymentGetsDefaults) {
  th::Deployment d = th::load_deployment_text("version: 1\nplugin_dirs: [plugins]\n", "min.yaml");
  EXPECT_EQ(d.name, "");
  EXPECT_EQ(d.data_dir, (fs::current_path() / "var").string());
  EXPECT_EQ(d.bus.kind, "embedded");
  EXPECT_EQ(d.bus.queue_capacity, 65536u);
  EXPECT_TRUE(d.agents.empty());
  EXPECT_TRUE(d.risk.empty());
  EXPECT_TRUE(d.gateway.is_object());
  EXPECT_TRUE(d.admin.is_object());
  EXPECT_EQ(d.logging.level, "info");
  EXPECT_EQ(d.logging.file, "");
  EXPECT_TRUE(d.metrics.enabled);
}

TEST(Deployment, EnvironmentOverridesDefaultsAndIsTyped) {
  ::setenv("TRADEHOST_TEST_DEPLOY_CAP", "4096", 1);
  ::setenv("TRADEHOST_TEST_DEPLOY_DATA", "/srv/th", 1);
  th::Deployment d = th::load_deployment_text(full_yaml, "full.yaml");
  ::unsetenv("TRADEHOST_TEST_DEPLOY_CAP");
  ::unsetenv("TRADEHOST_TEST_DEPLOY_DATA");
  EXPECT_EQ(d.bus.queue_capacity, 4096u);
  EXPECT_TRUE(d.document["bus"]["queue_capacity"].is_number_integer());
  EXPECT_EQ(d.data_dir, "/srv/th");
}

TEST(Deployment, JetstreamWithSectionLoads) {
  th::Deployment d = th::load_deployment_text("version: 1\nplugin_dirs: [p]\nbus:\n  kind: jetstream\n  "
                                              "jetstream: {url: \"nats://127.0.0.1:4222\"}\n",
                                              "js.yaml");
  EXPECT_EQ(d.bus.kind, "jetstream");
  EXPECT_EQ(d.bus.jetstream["url"], "nats://127.0.0.1:4222");
}

TEST(Deployment, LocateFindsRecordedAndNearestAncestor) {
  th::Deployment d = th::load_deployment_text(full_yaml, "full.yaml");
  th::SourceLocation lookback = d.locate("/agents/0/strategy/params/lookback");
  EXPECT_EQ(lookback.file, "full.yaml");
  EXPECT_EQ(lookback.yaml_path, "agents[0].strategy.params.lookback");
  EXPECT_EQ(lookback.line, 12);
  EXPECT_EQ(lookback.column, 26);
  EXPECT_EQ(lookback.to_string(), "full.yaml:12:26: agents[0].strategy.params.lookback");
  // Not in the file: the line of the nearest ancestor, the path of what was asked for.
  th::SourceLocation missing = d.locate(d.agents[1].strategy.params_pointer + "/window");
  EXPECT_EQ(missing.line, 15);
  EXPECT_EQ(missing.yaml_path, "agents[1].strategy.params.window");
  EXPECT_EQ(d.locate("").line, 1);
}

TEST(Deployment, LoadsFromAFile) {
  fs::path dir = fs::temp_directory_path() / ("th-config-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path file = dir / "d.yaml";
  std::ofstream(file) << "version: 1\nplugin_dirs: [p]\nname: from-file\n";
  th::Deployment d = th::load_deployment(file.string());
  EXPECT_EQ(d.name, "from-file");
  EXPECT_EQ(d.file, file.string());
  EXPECT_EQ(d.locate("/name").file, file.string());
  fs::remove_all(dir);
}

TEST(Deployment, SchemaDirectoryFromEnvironment) {
  ::setenv("TRADEHOST_SCHEMA_DIR", "/nonexistent/schemas", 1);
  EXPECT_THROW(th::deployment_schema_path(), std::runtime_error);
  ::setenv("TRADEHOST_SCHEMA_DIR", (std::string(TRADEHOST_SOURCE_DIR) + "/schemas").c_str(), 1);
  EXPECT_EQ(th::deployment_schema_path(), fs::path(TRADEHOST_SOURCE_DIR) / "schemas/deployment.schema.json");
  ::unsetenv("TRADEHOST_SCHEMA_DIR");
  EXPECT_TRUE(fs::exists(th::deployment_schema_path()));
}

// The shipped configs must stay valid (the lead writes configs/dev.yaml).
TEST(Deployment, ShippedConfigsAreValid) {
  fs::path configs = fs::path(TRADEHOST_SOURCE_DIR) / "configs";
  int checked = 0;
  if (fs::is_directory(configs))
    for (auto &entry : fs::directory_iterator(configs)) {
      if (entry.path().extension() != ".yaml")
        continue;
      EXPECT_NO_THROW(th::load_deployment(entry.path().string())) << entry.path();
      ++checked;
    }
  if (checked == 0)
    GTEST_SKIP() << "no configs/*.yaml yet";
}

} // namespace

namespace {

// Issue 14 finding 9: names, paths and tokens have natural bounds in the schema.
TEST(Deployment, OverlongNamesPathsAndTokensAreRefused) {
  const std::string base = "version: 1\nplugin_dirs: [/tmp]\n";
  struct Case {
    std::string yaml, path;
  } cases[] = {
      {"name: " + std::string(129, 'n') + "\n", "name"},
      {"data_dir: /" + std::string(4096, 'd') + "\n", "data_dir"},
      {"admin: {token: " + std::string(4097, 't') + "}\n", "admin.token"},
      {"agents:\n  - id: a\n    strategy: {plugin: " + std::string(65, 'p') + "}\n",
       "agents[0].strategy.plugin"},
      {"agents:\n  - id: a\n    strategy: {plugin: p}\n    instruments: [" + std::string(65, 'I') + "]\n",
       "agents[0].instruments[0]"},
  };
  for (const auto &c : cases) {
    try {
      th::load_deployment_text(base + c.yaml, "t.yaml");
      ADD_FAILURE() << c.path << " accepted";
    } catch (const th::ConfigErrors &e) {
      ASSERT_EQ(e.errors().size(), 1u) << e.what();
      EXPECT_EQ(e.errors()[0].where.yaml_path, c.path);
      EXPECT_NE(e.errors()[0].message.find("must be at most"), std::string::npos) << e.errors()[0].message;
    }
  }
}

} // namespace
