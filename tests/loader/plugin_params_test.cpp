// validate_plugin_params: each deployment entry names a loaded plugin of the right kind, and its
// params pass that plugin's schema; every error carries the YAML location.
#include "recording_services.hpp"

#include "config/deployment.hpp"
#include "loader/plugin_params.hpp"

#include <gtest/gtest.h>

namespace th {
namespace {

using test::TempDir;

class PluginParams : public testing::Test {
protected:
  void SetUp() override {
    for (const char *variant : {"good_strategy", "good_risk", "good_executor", "good_sink"})
      dir_.add(std::filesystem::path(LOADER_TEST_PLUGIN_DIR) / (std::string(variant) + ".so"));
    registry_.scan({dir_.path().string()});
    ASSERT_EQ(registry_.libraries().size(), 4u);
  }

  // A deployment whose body follows the common header; line 4 is the first body line.
  std::vector<ConfigError> check(const std::string &body) {
    const std::string yaml = "version: 1\nplugin_dirs:\n  - " + dir_.path().string() + "\n" + body;
    Deployment d = load_deployment_text(yaml, "test.yaml");
    return validate_plugin_params(d, registry_);
  }

  TempDir dir_;
  PluginRegistry registry_;
};

constexpr const char *valid_body = R"(agents:
  - id: a1
    strategy:
      plugin: variant
      params:
        size: 3
risk:
  - id: r1
    plugin: variant-risk
    params: {size: 1}
executors:
  - id: e1
    plugin: variant-exec
    params: {size: 1}
audit:
  - id: s1
    plugin: variant-sink
    params: {size: 1}
)";

TEST_F(PluginParams, ValidDeploymentHasNoErrors) {
  auto errors = check(valid_body);
  for (const auto &e : errors)
    ADD_FAILURE() << e.to_string();
}

TEST_F(PluginParams, UnknownPluginIsLocatedAtItsName) {
  auto errors = check(R"(agents:
  - id: a1
    strategy:
      plugin: momentun
      params: {size: 1}
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].where.file, "test.yaml");
  EXPECT_EQ(errors[0].where.yaml_path, "agents[0].strategy.plugin");
  EXPECT_EQ(errors[0].where.line, 7);
  EXPECT_NE(errors[0].message.find("unknown plugin \"momentun\""), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("strategy plugins: variant"), std::string::npos) << errors[0].message;
}

TEST_F(PluginParams, WrongKindIsLocatedForEverySection) {
  auto errors = check(R"(agents:
  - id: a1
    strategy:
      plugin: variant-risk
risk:
  - id: r1
    plugin: variant
executors:
  - id: e1
    plugin: variant-sink
audit:
  - id: s1
    plugin: variant-exec
)");
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0].where.yaml_path, "agents[0].strategy.plugin");
  EXPECT_EQ(errors[0].where.line, 7);
  EXPECT_EQ(errors[0].message,
            "plugin \"variant-risk\" is a risk plugin; an agent's strategy needs a strategy plugin");
  EXPECT_EQ(errors[1].where.yaml_path, "risk[0].plugin");
  EXPECT_EQ(errors[1].where.line, 10);
  EXPECT_EQ(errors[1].message, "plugin \"variant\" is a strategy plugin; a risk entry needs a risk plugin");
  EXPECT_EQ(errors[2].where.yaml_path, "executors[0].plugin");
  EXPECT_EQ(errors[2].where.line, 13);
  EXPECT_EQ(errors[2].message,
            "plugin \"variant-sink\" is an audit-sink plugin; an executor needs an executor plugin");
  EXPECT_EQ(errors[3].where.yaml_path, "audit[0].plugin");
  EXPECT_EQ(errors[3].where.line, 16);
  EXPECT_EQ(errors[3].message,
            "plugin \"variant-exec\" is an executor plugin; an audit sink needs an audit-sink plugin");
}

TEST_F(PluginParams, BadParamsAreLocatedAtTheOffendingValue) {
  auto errors = check(R"(agents:
  - id: a1
    strategy:
      plugin: variant
      params:
        size: big
  - id: a2
    strategy:
      plugin: variant
      params:
        size: 0
)");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].where.yaml_path, "agents[0].strategy.params.size");
  EXPECT_EQ(errors[0].where.line, 9);
  EXPECT_NE(errors[0].message.find("invalid params for plugin variant 1.0.0"), std::string::npos)
      << errors[0].message;
  EXPECT_NE(errors[0].message.find("integer"), std::string::npos) << errors[0].message;
  EXPECT_EQ(errors[1].where.yaml_path, "agents[1].strategy.params.size");
  EXPECT_EQ(errors[1].where.line, 14);
  EXPECT_NE(errors[1].message.find(">= 1"), std::string::npos) << errors[1].message;
}

TEST_F(PluginParams, MissingRequiredParamIsLocatedAtTheParamsBlock) {
  auto errors = check(R"(agents:
  - id: a1
    strategy:
      plugin: variant
      params:
        other: 1
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].where.yaml_path, "agents[0].strategy.params.size");
  EXPECT_GE(errors[0].where.line, 8); // the params block (the missing key has no line of its own)
  EXPECT_NE(errors[0].message.find("size"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].to_string().find("test.yaml:"), std::string::npos) << errors[0].to_string();
}

TEST_F(PluginParams, AbsentParamsAreCheckedAsAnEmptyObject) {
  auto errors = check(R"(agents:
  - id: a1
    strategy:
      plugin: variant
)");
  ASSERT_EQ(errors.size(), 1u); // size is required
  EXPECT_NE(errors[0].message.find("size"), std::string::npos) << errors[0].message;
}

} // namespace
} // namespace th
