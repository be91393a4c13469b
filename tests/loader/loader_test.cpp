// The loader matrix: every refusal reason with its message, and the registry keeps loading and
// running the good plugins next to the bad ones.
#include "recording_services.hpp"

#include "loader/plugin_instance.hpp"
#include "loader/plugin_registry.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace th {
namespace {

using test::RecordingServices;
using test::TempDir;

// The sizes the tiny_struct case names.
static_assert(offsetof(th_plugin_descriptor, create) == 80);
static_assert(offsetof(th_plugin_descriptor, last_error) + sizeof(void *) == 104);

std::filesystem::path built(const std::string &variant) {
  return std::filesystem::path(LOADER_TEST_PLUGIN_DIR) / (variant + ".so");
}

struct RefusalCase {
  const char *variant;
  const char *message; // a part of the refusal reason
};

void PrintTo(const RefusalCase &c, std::ostream *os) {
  *os << c.variant;
}

class Refusal : public testing::TestWithParam<RefusalCase> {};

TEST_P(Refusal, IsReportedWithItsReasonAndTheRegistryKeepsWorking) {
  const RefusalCase &c = GetParam();
  TempDir dir;
  dir.add(built("good_strategy"));
  auto bad = dir.add(built(c.variant));
  PluginRegistry registry;
  registry.scan({dir.path().string()});

  auto refusals = registry.refusals();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].path, bad);
  EXPECT_EQ(refusals[0].reason.rfind(bad.string() + ": ", 0), 0u) << refusals[0].reason;
  EXPECT_NE(refusals[0].reason.find(c.message), std::string::npos) << refusals[0].reason;

  // The good plugin beside it loaded and runs.
  ASSERT_EQ(registry.libraries().size(), 1u);
  RecordingServices services;
  auto instance =
      PluginInstance::create(registry.find("variant"), {"a1", "", "", 0}, R"({"size":1})", services);
  Signal signal;
  signal.instrument = "AAPL";
  EXPECT_EQ(instance->on_signal(signal), TH_OK);
}

INSTANTIATE_TEST_SUITE_P(
    Loader, Refusal,
    testing::Values(
        RefusalCase{"no_entry", "missing entry symbol tradehost_plugin_entry"},
        RefusalCase{"entry_null", "tradehost_plugin_entry() returned NULL"},
        RefusalCase{"undefined_symbol", "undefined symbol: tradehost_test_symbol_that_does_not_exist"},
        RefusalCase{"tiny_struct", "descriptor struct_size 80 is smaller than the 104 bytes of the ABI 1.0"},
        RefusalCase{"garbage_struct", "descriptor struct_size 3 is not a plausible size"},
        RefusalCase{"unknown_kind", "plugin variant: unknown kind 9"},
        RefusalCase{"no_create", "plugin variant: missing required function create"},
        RefusalCase{"no_destroy", "plugin variant: missing required function destroy"},
        RefusalCase{"no_last_error", "plugin variant: missing required function last_error"},
        RefusalCase{"strategy_no_on_signal", "missing required function on_signal for kind strategy"},
        RefusalCase{"risk_no_check_order", "missing required function check_order for kind risk"},
        RefusalCase{"executor_no_on_order_intent",
                    "missing required function on_order_intent for kind executor"},
        RefusalCase{"sink_no_on_audit_event", "missing required function on_audit_event for kind audit-sink"},
        RefusalCase{"bad_name", "invalid plugin name \"Bad Name\""},
        RefusalCase{"empty_name", "invalid plugin name \"\""},
        RefusalCase{"bad_version", "plugin variant: invalid version \"1.0\""},
        RefusalCase{"schema_not_json", "plugin variant: params_schema is not a valid JSON Schema"},
        RefusalCase{"schema_not_schema", "plugin variant: params_schema is not a valid JSON Schema"}),
    [](const testing::TestParamInfo<RefusalCase> &info) { return std::string(info.param.variant); });

TEST(Loader, TextFileNamedSoIsNotASharedLibrary) {
  TempDir dir;
  std::ofstream(dir.path() / "notes.so") << "this is not a plugin\n";
  std::ofstream(dir.path() / "empty.so").close(); // an empty file
  dir.add(built("good_strategy"));
  PluginRegistry registry;
  registry.scan({dir.path().string()});
  auto refusals = registry.refusals();
  ASSERT_EQ(refusals.size(), 2u);
  for (const auto &r : refusals)
    EXPECT_NE(r.reason.find("not a shared library"), std::string::npos) << r.reason;
  EXPECT_EQ(registry.libraries().size(), 1u);
}

TEST(Loader, ElfThatIsCutShortIsRefusedBeforeItIsMapped) {
  TempDir dir;
  // An ELF header and nothing else.
  std::ofstream(dir.path() / "truncated.so", std::ios::binary) << std::string("\x7f"
                                                                              "ELF\x02\x01\x01",
                                                                              7);
  PluginRegistry registry;
  EXPECT_FALSE(registry.add(dir.path() / "truncated.so"));
  ASSERT_EQ(registry.refusals().size(), 1u);
  EXPECT_NE(registry.refusals()[0].reason.find("not a complete shared library"), std::string::npos)
      << registry.refusals()[0].reason;
}

TEST(Loader, DuplicateNameAndVersionIsRefusedNamingTheFirstPath) {
  TempDir dir;
  auto first = dir.add(built("good_strategy"), "a_first.so");
  auto second = dir.add(built("good_strategy"), "b_second.so");
  PluginRegistry registry;
  registry.scan({dir.path().string()});
  ASSERT_EQ(registry.libraries().size(), 1u);
  EXPECT_EQ(registry.libraries()[0]->identity().path, first);
  ASSERT_EQ(registry.refusals().size(), 1u);
  EXPECT_EQ(registry.refusals()[0].reason, second.string() +
                                               ": duplicate plugin variant 1.0.0 (already loaded from " +
                                               first.string() + ")");
}

TEST(Loader, FindReturnsTheHighestVersion) {
  TempDir dir;
  dir.add(built("v1_9"));
  dir.add(built("v1_10"));
  dir.add(built("good_strategy")); // 1.0.0
  PluginRegistry registry;
  registry.scan({dir.path().string()});
  ASSERT_EQ(registry.libraries().size(), 3u)
      << (registry.refusals().empty() ? "" : registry.refusals()[0].reason);
  ASSERT_TRUE(registry.find("variant"));
  EXPECT_EQ(registry.find("variant")->identity().version, "1.10.0");
  EXPECT_FALSE(registry.find("nope"));
}

TEST(Loader, MissingDirectoryIsARefusalAndOtherDirectoriesStillLoad) {
  TempDir dir;
  dir.add(built("good_strategy"));
  PluginRegistry registry;
  const std::string missing = (dir.path() / "does-not-exist").string();
  registry.scan({missing, dir.path().string()});
  ASSERT_EQ(registry.refusals().size(), 1u);
  EXPECT_EQ(registry.refusals()[0].reason,
            missing + ": plugin directory does not exist or is not a directory");
  EXPECT_EQ(registry.libraries().size(), 1u);
}

TEST(Loader, ScanIgnoresFilesThatAreNotSo) {
  TempDir dir;
  dir.add(built("good_strategy"));
  std::ofstream(dir.path() / "README.md") << "not a plugin";
  PluginRegistry registry;
  registry.scan({dir.path().string()});
  EXPECT_TRUE(registry.refusals().empty());
  EXPECT_EQ(registry.libraries().size(), 1u);
}

TEST(Loader, RelativePathsResolveToAbsolute) {
  TempDir dir;
  dir.add(built("good_strategy"));
  auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  LoadRefusal refusal;
  auto library = load_plugin_library("good_strategy.so", &refusal);
  std::filesystem::current_path(previous);
  ASSERT_TRUE(library) << refusal.reason;
  EXPECT_EQ(library->identity().path, dir.path() / "good_strategy.so");
}

TEST(Loader, CreateFailureDestroysTheInstanceAndReportsTheMessage) {
  TempDir dir;
  PluginRegistry registry;
  auto library = registry.add(dir.add(built("create_fails")));
  ASSERT_TRUE(library);
  RecordingServices services;
  try {
    PluginInstance::create(library, {"agent_x", "", "", 0}, "{}", services);
    FAIL() << "create should fail";
  } catch (const PluginError &e) {
    EXPECT_EQ(
        std::string(e.what()),
        "plugin variant-fails 1.0.0 (instance agent_x): create failed: cannot start: no market data feed "
        "configured");
  }
}

TEST(Loader, RejectionWithoutReasonGetsDefaults) {
  TempDir dir;
  PluginRegistry registry;
  auto library = registry.add(dir.add(built("good_risk")));
  ASSERT_TRUE(library);
  RecordingServices services;
  auto risk = PluginInstance::create(library, {"r", "", "", 0}, "{}", services);
  Verdict v = risk->check_order(OrderIntent{});
  EXPECT_FALSE(v.approved);
  EXPECT_EQ(v.rule, "rejected");
  EXPECT_EQ(v.reason, "rejected");
}

TEST(Loader, KindNames) {
  EXPECT_EQ(kind_name(TH_KIND_STRATEGY), "strategy");
  EXPECT_EQ(kind_name(TH_KIND_RISK), "risk");
  EXPECT_EQ(kind_name(TH_KIND_EXECUTOR), "executor");
  EXPECT_EQ(kind_name(TH_KIND_AUDIT_SINK), "audit-sink");
  EXPECT_EQ(kind_name(0), "unknown");
}

} // namespace
} // namespace th
