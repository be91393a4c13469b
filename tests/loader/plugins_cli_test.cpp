// `tradehost plugins -c FILE [--json]` through the sub-command function, output captured.
#include "recording_services.hpp"

#include "cli/commands.hpp"
#include "loader/plugin_library.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

namespace th {
namespace {

using test::TempDir;

struct Captured {
  int code;
  std::string out;
  std::string err;
};

Captured run_plugins(const cli::Args &args) {
  std::ostringstream out, err;
  auto *old_out = std::cout.rdbuf(out.rdbuf());
  auto *old_err = std::cerr.rdbuf(err.rdbuf());
  int code = cli::plugins_command(args);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {code, out.str(), err.str()};
}

class PluginsCommand : public testing::Test {
protected:
  void SetUp() override {
    std::filesystem::create_directory(dir_.path() / "plugins");
    good_ = dir_.path() / "plugins" / "good_strategy.so";
    std::filesystem::copy_file(std::filesystem::path(LOADER_TEST_PLUGIN_DIR) / "good_strategy.so", good_);
    std::ofstream(dir_.path() / "plugins" / "x.so") << "text, not ELF\n";
    config_ = (dir_.path() / "deploy.yaml").string();
    std::ofstream(config_) << "version: 1\nplugin_dirs:\n  - " << (dir_.path() / "plugins").string() << "\n";
  }
  TempDir dir_;
  std::filesystem::path good_;
  std::string config_;
};

TEST_F(PluginsCommand, JsonListsPluginsAndRefusals) {
  Captured r = run_plugins({"-c", config_, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["plugins"].size(), 1u);
  const auto &p = doc["plugins"][0];
  EXPECT_EQ(p["name"], "variant");
  EXPECT_EQ(p["kind"], "strategy");
  EXPECT_EQ(p["version"], "1.0.0");
  EXPECT_EQ(p["abi"], "1." + std::to_string(TH_ABI_VERSION_MINOR)); // built with the current header
  EXPECT_EQ(p["path"], good_.string());
  EXPECT_EQ(p["sha256"], sha256_of_file(good_));
  ASSERT_EQ(doc["refused"].size(), 1u);
  EXPECT_EQ(doc["refused"][0]["path"], (dir_.path() / "plugins" / "x.so").string());
  EXPECT_NE(doc["refused"][0]["reason"].get<std::string>().find("not a shared library"), std::string::npos);
}

TEST_F(PluginsCommand, TableShowsIdentityAndRefusals) {
  Captured r = run_plugins({"--config", config_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("NAME", 0), 0u) << r.out;
  std::istringstream lines(r.out);
  std::string header, row;
  std::getline(lines, header);
  std::getline(lines, row);
  for (const char *column : {"KIND", "VERSION", "ABI", "SHA256", "PATH"})
    EXPECT_NE(header.find(column), std::string::npos) << header;
  EXPECT_EQ(row.rfind("variant", 0), 0u) << row;
  EXPECT_NE(row.find("strategy"), std::string::npos) << row;
  EXPECT_NE(row.find(sha256_of_file(good_).substr(0, 12)), std::string::npos) << row;
  EXPECT_NE(row.find(good_.string()), std::string::npos) << row;
  EXPECT_NE(r.out.find("refused:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("x.so: not a shared library"), std::string::npos) << r.out;
}

TEST_F(PluginsCommand, UsageAndConfigErrorsExitTwo) {
  EXPECT_EQ(run_plugins({}).code, 2);
  EXPECT_EQ(run_plugins({"-c"}).code, 2);
  EXPECT_EQ(run_plugins({"-c", config_, "--bogus"}).code, 2);
  Captured missing = run_plugins({"-c", (dir_.path() / "nope.yaml").string()});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("nope.yaml"), std::string::npos) << missing.err;
  std::ofstream(dir_.path() / "bad.yaml") << "version: 1\n"; // plugin_dirs is required
  Captured bad = run_plugins({"-c", (dir_.path() / "bad.yaml").string()});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("plugin_dirs"), std::string::npos) << bad.err;
  Captured help = run_plugins({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("usage: tradehost plugins"), std::string::npos);
}

} // namespace
} // namespace th
