// `tradehost plugins -c FILE [--json]` through the sub-command function, output captured.
#include "recording_services.hpp"

#include "cli/commands.hpp"
#include "loader/plugin_library.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
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

// Paths of the shared objects this process has mapped.
std::string mapped_paths() {
  std::ifstream maps("/proc/self/maps");
  std::ostringstream text;
  text << maps.rdbuf();
  return text.str();
}

int shell(const std::string &command) {
  return std::system((command + " >/dev/null 2>&1").c_str());
}

// Issue 14 finding 14: with a plugin_allowlist, `plugins` judges each library as the host does,
// before mapping it: an unsigned build, a tampered copy of a signed one and a build with another
// library's signature are refused (and none of them is mapped), the signed one is listed.
TEST_F(PluginsCommand, TheAllowlistJudgesLibrariesBeforeAnyIsMapped) {
  const auto plugins = dir_.path() / "plugins";
  const std::string key = (dir_.path() / "k").string();
  ASSERT_EQ(shell("openssl genpkey -algorithm ed25519 -out " + key + ".pem && openssl pkey -in " + key +
                  ".pem -pubout -out " + key + ".pub"),
            0);
  auto sign = [&](const std::filesystem::path &file) {
    return shell("openssl pkeyutl -sign -inkey " + key + ".pem -rawin -in " + file.string() + " -out " +
                 file.string() + ".sig");
  };
  ASSERT_EQ(sign(good_), 0);
  const auto other = std::filesystem::path(LOADER_TEST_PLUGIN_DIR) / "v1_9.so"; // loadable, unsigned
  std::filesystem::copy_file(other, plugins / "unsigned_build.so");
  std::filesystem::copy_file(other, plugins / "wrongly_signed.so");
  std::filesystem::copy_file(good_.string() + ".sig", plugins / "wrongly_signed.so.sig");
  std::filesystem::copy_file(good_, plugins / "tampered_build.so");
  std::ofstream(plugins / "tampered_build.so", std::ios::app) << "tampered";
  std::filesystem::copy_file(good_.string() + ".sig", plugins / "tampered_build.so.sig");
  std::ofstream(config_, std::ios::app) << "plugin_allowlist:\n  public_key: " << key << ".pub\n";

  Captured r = run_plugins({"-c", config_, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["plugins"].size(), 1u) << r.out;
  EXPECT_EQ(doc["plugins"][0]["path"], good_.string());
  std::map<std::string, std::string> refused;
  for (const auto &entry : doc["refused"])
    refused[std::filesystem::path(entry["path"].get<std::string>()).filename().string()] = entry["reason"];
  for (const char *name : {"unsigned_build.so", "wrongly_signed.so", "tampered_build.so"}) {
    ASSERT_TRUE(refused.count(name)) << name << " not refused: " << r.out;
    EXPECT_NE(refused[name].find("not on the plugin allowlist"), std::string::npos) << refused[name];
  }
  const std::string maps = mapped_paths();
  for (const char *stem : {"unsigned_build", "wrongly_signed", "tampered_build"})
    EXPECT_EQ(maps.find(stem), std::string::npos) << stem << " was mapped";
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
