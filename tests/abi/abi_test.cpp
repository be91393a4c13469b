// The plugin ABI end to end: real .so files (C99 and C++) loaded by PluginRegistry, run through
// PluginInstance, their intents read back through assign_from.
#include "recording_services.hpp"

#include "events/c_view.hpp"
#include "loader/plugin_instance.hpp"
#include "loader/plugin_registry.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace th {
namespace {

using test::RecordingServices;
using test::TempDir;

Signal make_signal(std::string instrument, int32_t action, std::optional<double> price = std::nullopt) {
  Signal s;
  s.corr_id = "test_0123456789";
  s.parent_corr_id = "parent_0123456789";
  s.instrument = std::move(instrument);
  s.action = action;
  s.strength = 0.8;
  s.price = price;
  s.timestamp_ns = 1736937001250000000;
  s.source = "test";
  return s;
}

InstanceContext agent(std::string id) {
  InstanceContext c;
  c.instance_id = std::move(id);
  return c;
}

std::shared_ptr<PluginLibrary> load_one(PluginRegistry &registry, const TempDir &dir, const char *built) {
  auto library = registry.add(dir.add(built));
  EXPECT_TRUE(library) << (registry.refusals().empty() ? "" : registry.refusals().back().reason);
  return library;
}

TEST(Abi, CPluginLoadsWithIdentityAndEmitsIntents) {
  TempDir dir;
  PluginRegistry registry;
  auto library = load_one(registry, dir, ABI_C_STRATEGY_PATH);
  ASSERT_TRUE(library);
  const PluginIdentity &id = library->identity();
  EXPECT_EQ(id.name, "c-strategy");
  EXPECT_EQ(id.version, "1.0.0");
  EXPECT_EQ(id.kind, TH_KIND_STRATEGY);
  EXPECT_EQ(id.abi_major, 1);
  EXPECT_EQ(id.abi_minor, TH_ABI_VERSION_MINOR); // the header it was built with
  EXPECT_TRUE(id.path.is_absolute());
  EXPECT_EQ(id.path, dir.path() / "abi_c_strategy.so");
  EXPECT_EQ(id.sha256, sha256_of_file(ABI_C_STRATEGY_PATH));
  EXPECT_EQ(id.sha256.size(), 64u);

  RecordingServices services;
  auto instance = PluginInstance::create(library, agent("agent_c"), R"({"quantity": 4})", services);
  ASSERT_EQ(instance->start(), TH_OK);
  EXPECT_EQ(instance->on_signal(make_signal("AAPL", TH_SIGNAL_BUY, 101.5)), TH_OK);
  EXPECT_EQ(instance->on_signal(make_signal("MSFT", TH_SIGNAL_SELL)), TH_OK);
  EXPECT_EQ(instance->on_signal(make_signal("MSFT", TH_SIGNAL_HOLD)), TH_OK);

  auto intents = services.intents();
  ASSERT_EQ(intents.size(), 2u);
  const OrderIntent &buy = intents[0].intent;
  EXPECT_EQ(intents[0].from.instance_id, "agent_c");
  EXPECT_EQ(intents[0].from.plugin_name, "c-strategy");
  EXPECT_EQ(buy.corr_id, "test_0123456789");
  EXPECT_EQ(buy.instrument, "AAPL");
  EXPECT_EQ(buy.side, TH_SIDE_BUY);
  EXPECT_EQ(buy.order_type, TH_ORDER_LIMIT);
  EXPECT_EQ(buy.price_limit, 101.5);
  EXPECT_FALSE(buy.stop_price);
  EXPECT_EQ(buy.quantity, 4);
  EXPECT_EQ(buy.timestamp_ns, RecordingServices::clock_ns);
  EXPECT_EQ(buy.strategy, "c-strategy");
  EXPECT_EQ(buy.risk_params.stop_loss, 0.02);
  EXPECT_FALSE(buy.risk_params.max_position);
  const OrderIntent &sell = intents[1].intent;
  EXPECT_EQ(sell.instrument, "MSFT");
  EXPECT_EQ(sell.side, TH_SIDE_SELL);
  EXPECT_EQ(sell.order_type, TH_ORDER_MARKET);
  EXPECT_FALSE(sell.price_limit);
  EXPECT_EQ(services.logs(), std::vector<std::string>({"emitting intent", "emitting intent"}));
  EXPECT_EQ(instance->stop(), TH_OK);
}

TEST(Abi, CPluginFailureComesBackWithItsMessage) {
  TempDir dir;
  PluginRegistry registry;
  auto library = load_one(registry, dir, ABI_C_STRATEGY_PATH);
  ASSERT_TRUE(library);
  RecordingServices services;
  auto instance = PluginInstance::create(library, agent("agent_c"), "{}", services);
  EXPECT_EQ(instance->on_signal(make_signal("FAIL", TH_SIGNAL_BUY)), TH_ERROR);
  EXPECT_EQ(instance->error(), "refusing instrument FAIL");
  // The instance keeps working after a failed call.
  EXPECT_EQ(instance->on_signal(make_signal("AAPL", TH_SIGNAL_BUY)), TH_OK);
  ASSERT_EQ(services.intents().size(), 1u);
  EXPECT_EQ(services.intents()[0].intent.quantity, 1); // the plugin's default
}

TEST(Abi, CreateFailureIsReportedWithThePluginsMessage) {
  TempDir dir;
  PluginRegistry registry;
  auto c_library = load_one(registry, dir, ABI_C_STRATEGY_PATH);
  auto cpp_library = load_one(registry, dir, ABI_CPP_STRATEGY_PATH);
  ASSERT_TRUE(c_library && cpp_library);
  RecordingServices services;
  try {
    PluginInstance::create(c_library, agent("agent_c"), R"({"quantity": -1})", services);
    FAIL() << "create should have failed";
  } catch (const PluginError &e) {
    EXPECT_NE(std::string(e.what()).find("quantity must be positive, got -1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("agent_c"), std::string::npos) << e.what();
  }
  // A C++ constructor that throws: the helper turns the exception into a status + message.
  try {
    PluginInstance::create(cpp_library, agent("agent_cpp"), R"({"lots": 500})", services);
    FAIL() << "create should have failed";
  } catch (const PluginError &e) {
    EXPECT_NE(std::string(e.what()).find("lots must be at most 100"), std::string::npos) << e.what();
  }
}

TEST(Abi, CppPluginThroughTheHelperEmitsFullIntents) {
  TempDir dir;
  PluginRegistry registry;
  auto library = load_one(registry, dir, ABI_CPP_STRATEGY_PATH);
  ASSERT_TRUE(library);
  EXPECT_EQ(library->identity().name, "cpp-strategy");
  EXPECT_EQ(library->identity().version, "2.1.0");
  EXPECT_NE(library->params_schema().find("lots"), std::string_view::npos);

  RecordingServices services;
  auto instance = PluginInstance::create(library, agent("agent_cpp"), R"({"lots": 3})", services);
  EXPECT_EQ(instance->on_signal(make_signal("BTC/USD", TH_SIGNAL_BUY)), TH_OK);
  auto intents = services.intents();
  ASSERT_EQ(intents.size(), 1u);
  const OrderIntent &o = intents[0].intent;
  EXPECT_EQ(intents[0].struct_size, sizeof(th_order_intent));
  EXPECT_EQ(o.instrument, "BTC/USD");
  EXPECT_EQ(o.parent_corr_id, "parent_0123456789");
  EXPECT_EQ(o.side, TH_SIDE_BUY);
  EXPECT_EQ(o.time_in_force, TH_TIF_IOC);
  EXPECT_EQ(o.quantity, 3);
  EXPECT_EQ(o.timestamp_ns, 1736937001250000000);
  EXPECT_EQ(o.strategy, "cpp-strategy");
  EXPECT_EQ(o.risk_params.max_position, 10);
  EXPECT_EQ(o.risk_params.take_profit, 0.05);
  EXPECT_FALSE(o.risk_params.stop_loss);
  EXPECT_EQ(o.extra_json, R"({"reason":"cpp"})");
  EXPECT_EQ(services.metrics(), std::vector<std::string>{"cpp_strategy_intents_total"});

  // An exception inside a member becomes TH_ERROR with the exception's message.
  EXPECT_EQ(instance->on_signal(make_signal("THROW", TH_SIGNAL_BUY)), TH_ERROR);
  EXPECT_EQ(instance->error(), "strategy blew up on THROW");
}

TEST(Abi, OneLibraryServesSeveralInstancesWithTheirOwnParams) {
  TempDir dir;
  PluginRegistry registry;
  auto library = load_one(registry, dir, ABI_C_STRATEGY_PATH);
  ASSERT_TRUE(library);
  RecordingServices services;
  auto small = PluginInstance::create(library, agent("small"), R"({"quantity": 1.5})", services);
  auto large = PluginInstance::create(library, agent("large"), R"({"quantity": 250})", services);
  small->on_signal(make_signal("AAPL", TH_SIGNAL_BUY));
  large->on_signal(make_signal("AAPL", TH_SIGNAL_BUY));
  small.reset(); // destroying one leaves the other (and the library) working
  large->on_signal(make_signal("AAPL", TH_SIGNAL_SELL));
  auto intents = services.intents();
  ASSERT_EQ(intents.size(), 3u);
  EXPECT_EQ(intents[0].from.instance_id, "small");
  EXPECT_EQ(intents[0].intent.quantity, 1.5);
  EXPECT_EQ(intents[1].from.instance_id, "large");
  EXPECT_EQ(intents[1].intent.quantity, 250);
  EXPECT_EQ(intents[2].intent.quantity, 250);
}

TEST(Abi, InstancesKeepTheLibraryLoadedAfterTheRegistryIsGone) {
  TempDir dir;
  RecordingServices services;
  std::unique_ptr<PluginInstance> instance;
  {
    PluginRegistry registry;
    auto library = load_one(registry, dir, ABI_CPP_STRATEGY_PATH);
    ASSERT_TRUE(library);
    instance = PluginInstance::create(library, agent("a"), "{}", services);
  }
  EXPECT_EQ(instance->on_signal(make_signal("AAPL", TH_SIGNAL_BUY)), TH_OK);
  EXPECT_EQ(instance->library().identity().name, "cpp-strategy");
  ASSERT_EQ(services.intents().size(), 1u);
  EXPECT_EQ(services.intents()[0].intent.quantity, 2);
}

TEST(Abi, RiskVerdictsCarryRuleAndReason) {
  TempDir dir;
  PluginRegistry registry;
  auto library = load_one(registry, dir, ABI_CPP_RISK_PATH);
  ASSERT_TRUE(library);
  RecordingServices services;
  auto risk = PluginInstance::create(library, agent("limits"), R"({"max_quantity": 5})", services);
  OrderIntent intent;
  intent.corr_id = "test_0123456789";
  intent.instrument = "AAPL";
  intent.side = TH_SIDE_BUY;
  intent.quantity = 3;
  Verdict ok = risk->check_order(intent);
  EXPECT_TRUE(ok.approved);

  intent.quantity = 8;
  Verdict rejected = risk->check_order(intent);
  EXPECT_FALSE(rejected.approved);
  EXPECT_EQ(rejected.rule, "max_quantity");
  EXPECT_NE(rejected.reason.find("exceeds 5"), std::string::npos) << rejected.reason;

  // The pending rejection does not leak into the next check.
  intent.quantity = 1;
  EXPECT_TRUE(risk->check_order(intent).approved);

  intent.instrument = "THROW";
  Verdict error = risk->check_order(intent);
  EXPECT_FALSE(error.approved);
  EXPECT_EQ(error.rule, "risk_error"); // fails closed (issue 13 finding 1)
  EXPECT_EQ(error.reason, "risk_error: risk check crashed");
}

TEST(Abi, OlderMinorPluginLoadsAndUnreachedFieldsReadAsDefaults) {
  TempDir dir;
  PluginRegistry registry;
  auto library = load_one(registry, dir, ABI_OLD_MINOR_PATH);
  ASSERT_TRUE(library);
  EXPECT_EQ(library->identity().version, "0.9.0");
  // The descriptor stops before on_fill: the host sees no on_fill although the bytes after the
  // plugin's struct_size hold a function pointer.
  EXPECT_EQ(library->descriptor().on_fill, nullptr);
  EXPECT_EQ(library->descriptor().on_audit_event, nullptr);
  EXPECT_EQ(library->descriptor().struct_size, offsetof(th_plugin_descriptor, on_fill));

  RecordingServices services;
  auto instance = PluginInstance::create(library, agent("old"), "{}", services);
  EXPECT_FALSE(instance->has_on_fill());
  EXPECT_EQ(instance->on_fill(Fill{}), TH_UNSUPPORTED);
  EXPECT_EQ(instance->on_signal(make_signal("AAPL", TH_SIGNAL_BUY)), TH_OK);
  auto intents = services.intents();
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_EQ(intents[0].struct_size, offsetof(th_order_intent, max_position));
  const OrderIntent &o = intents[0].intent;
  EXPECT_EQ(o.instrument, "AAPL");
  EXPECT_EQ(o.side, TH_SIDE_SELL);
  EXPECT_EQ(o.quantity, 3);
  // Written past the plugin's struct_size, so never read:
  EXPECT_FALSE(o.risk_params.max_position);
  EXPECT_FALSE(o.risk_params.stop_loss);
  EXPECT_FALSE(o.risk_params.take_profit);
  EXPECT_FALSE(o.risk_params.max_slippage_bps);
  EXPECT_EQ(o.extra_json, "");
}

TEST(Abi, LargerStructsFromALaterHeaderLoadWhenTheyNeedOnlyMinorZero) {
  TempDir dir;
  PluginRegistry registry;
  auto library = load_one(registry, dir, ABI_NEWER_STRUCT_PATH);
  ASSERT_TRUE(library);
  EXPECT_EQ(library->identity().abi_minor, 0);
  EXPECT_GT(library->descriptor().struct_size, sizeof(th_plugin_descriptor)); // the plugin's own size
  RecordingServices services;
  auto instance = PluginInstance::create(library, agent("new"), "{}", services);
  EXPECT_EQ(instance->on_signal(make_signal("AAPL", TH_SIGNAL_BUY)), TH_OK);
  auto intents = services.intents();
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_GT(intents[0].struct_size, sizeof(th_order_intent));
  EXPECT_EQ(intents[0].intent.quantity, 7);
  EXPECT_EQ(intents[0].intent.risk_params.max_slippage_bps, 12);
  EXPECT_FALSE(intents[0].intent.risk_params.max_position);
}

TEST(Abi, HigherMinorIsRefusedNamingBothVersions) {
  TempDir dir;
  PluginRegistry registry;
  auto path = dir.add(ABI_FUTURE_MINOR_PATH);
  EXPECT_FALSE(registry.add(path));
  ASSERT_EQ(registry.refusals().size(), 1u);
  const std::string reason = registry.refusals()[0].reason;
  EXPECT_NE(reason.find(path.string()), std::string::npos) << reason;
  const std::string host = "1." + std::to_string(TH_ABI_VERSION_MINOR);
  const std::string wanted = "1." + std::to_string(TH_ABI_VERSION_MINOR + 1);
  EXPECT_NE(reason.find("needs plugin ABI " + wanted + "; this host implements " + host), std::string::npos)
      << reason;
}

TEST(Abi, WrongMajorIsRefusedAndTheOthersInTheDirectoryRun) {
  TempDir dir;
  dir.add(ABI_C_STRATEGY_PATH);
  dir.add(ABI_WRONG_MAJOR_PATH);
  dir.add(ABI_CPP_STRATEGY_PATH);
  PluginRegistry registry;
  registry.scan({dir.path().string()});

  auto refusals = registry.refusals();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].path, dir.path() / "abi_wrong_major.so");
  EXPECT_NE(refusals[0].reason.find("built for plugin ABI 2.0; this host implements 1." +
                                    std::to_string(TH_ABI_VERSION_MINOR)),
            std::string::npos)
      << refusals[0].reason;

  ASSERT_EQ(registry.libraries().size(), 2u);
  RecordingServices services;
  auto c = PluginInstance::create(registry.find("c-strategy"), agent("c"), "{}", services);
  auto cpp = PluginInstance::create(registry.find("cpp-strategy"), agent("cpp"), "{}", services);
  EXPECT_EQ(c->on_signal(make_signal("AAPL", TH_SIGNAL_BUY)), TH_OK);
  EXPECT_EQ(cpp->on_signal(make_signal("AAPL", TH_SIGNAL_BUY)), TH_OK);
  EXPECT_EQ(services.intents().size(), 2u);
}

TEST(Abi, SerialisedInstanceSeesOneCallAtATime) {
  TempDir dir;
  PluginRegistry registry;
  auto library = load_one(registry, dir, ABI_C_STRATEGY_PATH);
  ASSERT_TRUE(library);
  RecordingServices services;
  auto instance = PluginInstance::create(library, agent("busy"), "{}", services);
  constexpr int per_thread = 2000;
  auto work = [&] {
    for (int i = 0; i < per_thread; ++i)
      instance->on_signal(make_signal("AAPL", TH_SIGNAL_BUY));
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  EXPECT_EQ(services.intents().size(), 2u * per_thread);
}

// c_view: the conversions honour the writer's struct_size.
TEST(CView, SignalRoundTripKeepsEveryField) {
  Signal s = make_signal("ETH/USD", TH_SIGNAL_CLOSE, 3200.25);
  s.extra_json = R"({"metadata":{"k":1}})";
  th_signal v = view_of(s);
  EXPECT_EQ(v.struct_size, sizeof(th_signal));
  EXPECT_EQ(v.flags, TH_SIGNAL_HAS_PRICE);
  EXPECT_EQ(v.instrument.ptr, s.instrument.data()); // a view, not a copy
  Signal back;
  back.source = "stale";
  assign_from(back, v);
  EXPECT_EQ(back.corr_id, s.corr_id);
  EXPECT_EQ(back.parent_corr_id, s.parent_corr_id);
  EXPECT_EQ(back.instrument, s.instrument);
  EXPECT_EQ(back.action, TH_SIGNAL_CLOSE);
  EXPECT_EQ(back.strength, 0.8);
  EXPECT_EQ(back.price, 3200.25);
  EXPECT_EQ(back.timestamp_ns, s.timestamp_ns);
  EXPECT_EQ(back.source, "test");
  EXPECT_EQ(back.extra_json, s.extra_json);
  v.flags = 0;
  assign_from(back, v);
  EXPECT_FALSE(back.price);
}

TEST(CView, IntentFromASmallerStructTakesDefaults) {
  OrderIntent o;
  o.corr_id = "test_0123456789";
  o.instrument = "AAPL";
  o.side = TH_SIDE_BUY;
  o.order_type = TH_ORDER_STOP_LIMIT;
  o.quantity = 5;
  o.price_limit = 10;
  o.stop_price = 9;
  o.risk_params.max_position = 100;
  o.risk_params.max_slippage_bps = 3;
  o.extra_json = R"({"x":1})";
  th_order_intent v = view_of(o);
  EXPECT_EQ(v.flags, TH_INTENT_HAS_PRICE_LIMIT | TH_INTENT_HAS_STOP_PRICE | TH_INTENT_HAS_MAX_POSITION |
                         TH_INTENT_HAS_MAX_SLIPPAGE);
  OrderIntent full;
  assign_from(full, v);
  EXPECT_EQ(full.stop_price, 9);
  EXPECT_EQ(full.risk_params.max_position, 100);
  EXPECT_EQ(full.risk_params.max_slippage_bps, 3);
  EXPECT_EQ(full.extra_json, R"({"x":1})");

  v.struct_size = offsetof(th_order_intent, stop_price); // ends before stop_price
  OrderIntent partial = full;                            // stale values must be replaced
  assign_from(partial, v);
  EXPECT_EQ(partial.quantity, 5);
  EXPECT_EQ(partial.price_limit, 10);
  EXPECT_FALSE(partial.stop_price);
  EXPECT_EQ(partial.timestamp_ns, 0);
  EXPECT_EQ(partial.strategy, "");
  EXPECT_FALSE(partial.risk_params.max_position);
  EXPECT_FALSE(partial.risk_params.max_slippage_bps);
  EXPECT_EQ(partial.extra_json, "");
}

// ABI 1.1: the host's order id crosses in both directions; a 1.0 struct reads as none.
TEST(CView, IntentOrderIdIsAnAbi11FieldWithAnEmptyDefault) {
  OrderIntent o;
  o.corr_id = "test_0123456789";
  o.agent_id = "momentum_v1";
  o.order_id = "test_0123456789.momentum_v1.2";
  th_order_intent v = view_of(o);
  ASSERT_TRUE(TH_HAS_FIELD(&v, th_order_intent, order_id));
  EXPECT_EQ(std::string(v.order_id.ptr, v.order_id.len), o.order_id);
  OrderIntent back;
  assign_from(back, v);
  EXPECT_EQ(back.order_id, o.order_id);
  v.struct_size = offsetof(th_order_intent, order_id); // as a plugin built against 1.0 writes it
  assign_from(back, v);
  EXPECT_EQ(back.order_id, "");
  EXPECT_EQ(back.agent_id, "momentum_v1");
}

TEST(CView, FillOptionalNumbers) {
  Fill f;
  f.corr_id = "test_0123456789";
  f.fill_id = "fill_1";
  f.quantity_filled = 2;
  f.slippage_bps = 1.5;
  f.fees.commission = 0.25;
  th_fill v = view_of(f);
  EXPECT_EQ(v.quantity_requested, 0);
  Fill back;
  assign_from(back, v);
  EXPECT_FALSE(back.quantity_requested);
  EXPECT_EQ(back.slippage_bps, 1.5);
  EXPECT_EQ(back.fees.commission, 0.25);
  EXPECT_EQ(back.fill_id, "fill_1");
  v.struct_size = offsetof(th_fill, commission);
  assign_from(back, v);
  EXPECT_EQ(back.fees.commission, 0);
  EXPECT_FALSE(back.slippage_bps);
}

TEST(CView, ReconcileAndAuditViews) {
  Reconcile r;
  r.corr_id = "test_0123456789";
  r.instrument = "AAPL";
  r.new_position = -3;
  r.realized_pnl = 12.5;
  th_reconcile v = view_of(r);
  Reconcile back;
  assign_from(back, v);
  EXPECT_EQ(back.new_position, -3);
  EXPECT_EQ(back.realized_pnl, 12.5);
  AuditRecord a;
  a.event_id = "ev1";
  a.data_json = "{}";
  a.timestamp_ns = 42;
  th_audit_event e = view_of(a);
  EXPECT_EQ(as_view(e.event_id), "ev1");
  EXPECT_EQ(e.timestamp_ns, 42);
  EXPECT_EQ(e.struct_size, sizeof(th_audit_event));
}

TEST(Sha256, MatchesTheKnownDigest) {
  TempDir dir;
  auto file = dir.path() / "abc.txt";
  std::ofstream(file) << "abc";
  EXPECT_EQ(sha256_of_file(file), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

} // namespace
} // namespace th
