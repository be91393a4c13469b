// `tradehost validate` end to end: real deployment files, the real built plugins, the exit codes
// and the FILE:LINE:COL: PATH: message lines.
#include "cli/commands.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int code;
  std::string out;
  std::string err;
};

CommandResult validate(const std::vector<std::string> &args) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = th::cli::validate_command(args);
  std::string out = ::testing::internal::GetCapturedStdout();
  return {code, out, ::testing::internal::GetCapturedStderr()};
}

class ValidateCommand : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("th-validate-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string &name, const std::string &body) {
    fs::path path = dir_ / name;
    std::ofstream(path) << "version: 1\nplugin_dirs: [\"" << TRADEHOST_PLUGIN_BUILD_DIR << "\"]\n" << body;
    return path.string();
  }

  fs::path dir_;
};

TEST_F(ValidateCommand, ValidDeploymentExitsZero) {
  std::string file =
      write("ok.yaml", "agents:\n  - id: m\n    strategy: {plugin: momentum, params: {lookback: 20}}\n");
  CommandResult r = validate({"-c", file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(file + ": valid (1 agents"), std::string::npos) << r.out;
}

TEST_F(ValidateCommand, SchemaErrorsArePrintedWithLocationAndExitTwo) {
  std::string file = write("bad.yaml", "bus:\n  kind: kafka\nlogging: {level: loud}\n");
  CommandResult r = validate({"--config", file});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(file + ":4:9: bus.kind: must be one of: embedded, jetstream\n"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(file + ":5:18: logging.level: must be one of"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("invalid (2 errors)"), std::string::npos) << r.err;
}

TEST_F(ValidateCommand, PluginProblemsAreErrorsWithLocation) {
  std::string file = write("plugins.yaml", "risk:\n  - id: r\n    plugin: risk-limitz\n");
  CommandResult r = validate({"-c", file});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(file + ":5:13: risk[0].plugin: unknown plugin \"risk-limitz\""), std::string::npos)
      << r.err;
}

// Issue 13 finding 10: an agent whose strategy plugin is missing waits for it at run time, so
// validate (the packaged unit's ExecStartPre) warns, naming the place and the known plugins.
TEST_F(ValidateCommand, AMissingStrategyPluginIsAWarningWithLocation) {
  std::string file = write("plugins.yaml", "agents:\n  - id: m\n    strategy:\n      plugin: momentm\n");
  CommandResult r = validate({"-c", file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(
      r.err.find("warning: " + file + ":6:15: agents[0].strategy.plugin: plugin \"momentm\" is not loaded"),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("strategy plugins: momentum"), std::string::npos) << r.err;
}

// Issue 14 finding 9: a "billion laughs" file is a located error (exit 2), not std::bad_alloc.
TEST_F(ValidateCommand, AnAliasBombIsAnErrorNotAnAbort) {
  std::string body = "l0: &l0 [\"lol\"]\n";
  for (int level = 1; level <= 9; ++level) {
    std::string prev = "*l" + std::to_string(level - 1);
    body += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [" + prev;
    for (int i = 1; i < 10; ++i)
      body += ", " + prev;
    body += "]\n";
  }
  std::string file = write("bomb.yaml", body + "name: *l9\n");
  CommandResult r = validate({"-c", file});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(file + ":"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("values once aliases are expanded"), std::string::npos) << r.err;
}

TEST_F(ValidateCommand, JsonOutputListsErrors) {
  std::string file =
      write("dup.yaml", "executors:\n  - {id: sim, plugin: exec-sim}\n  - {id: sim, plugin: exec-sim}\n");
  CommandResult r = validate({"-c", file, "--json"});
  EXPECT_EQ(r.code, 2);
  auto out = nlohmann::json::parse(r.out);
  EXPECT_FALSE(out["valid"].get<bool>());
  ASSERT_EQ(out["errors"].size(), 1u);
  EXPECT_EQ(out["errors"][0]["line"], 5);
  EXPECT_EQ(out["errors"][0]["path"], "executors[1].id");
  EXPECT_EQ(out["errors"][0]["file"], file);
}

TEST_F(ValidateCommand, RefusedPluginDirIsAWarningNotAnError) {
  fs::path file = dir_ / "warn.yaml";
  std::ofstream(file) << "version: 1\nplugin_dirs: [\"" << TRADEHOST_PLUGIN_BUILD_DIR << "\", \""
                      << (dir_ / "none").string() << "\"]\n";
  CommandResult r = validate({"-c", file.string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: "), std::string::npos);
  EXPECT_NE(r.err.find((dir_ / "none").string()), std::string::npos) << r.err;
}

TEST_F(ValidateCommand, UsageErrorsExitTwoAndHelpExitsZero) {
  EXPECT_EQ(validate({}).code, 2);
  EXPECT_EQ(validate({"-c"}).code, 2);
  EXPECT_EQ(validate({"-c", "x.yaml", "--bogus"}).code, 2);
  CommandResult help = validate({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("Usage: tradehost validate -c FILE"), std::string::npos);
}

TEST_F(ValidateCommand, MissingFileIsAConfigError) {
  CommandResult r = validate({"-c", (dir_ / "absent.yaml").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("cannot read the deployment"), std::string::npos) << r.err;
}

} // namespace
