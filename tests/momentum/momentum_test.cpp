// The momentum strategy, loaded from momentum.so and driven through the C ABI with a recording
// host: a table of rule cases, then skip reporting, window behaviour, instances and params.
#include "support/params_schema_check.hpp"
#include "support/plugin_harness.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace {

using th::test::PluginHarness;

constexpr int64_t kSignalTime = 1736937000000000000; // 2025-01-15T10:30:00Z

struct SignalSpec {
  int32_t action = TH_SIGNAL_BUY;
  double strength = 0.8;
  std::optional<double> price;
  std::string instrument = "AAPL";
};

SignalSpec buy(std::optional<double> price, double strength = 0.8) {
  return {TH_SIGNAL_BUY, strength, price};
}
SignalSpec sell(std::optional<double> price, double strength = 0.8) {
  return {TH_SIGNAL_SELL, strength, price};
}
SignalSpec hold(std::optional<double> price) {
  return {TH_SIGNAL_HOLD, 0.8, price};
}
SignalSpec close_signal(double strength = 0.8) {
  return {TH_SIGNAL_CLOSE, strength, std::nullopt};
}

struct Expected {
  enum class Kind { order, skip, nothing } kind = Kind::nothing;
  int32_t side = 0;
  double quantity = 0;
  std::string reason;
};

Expected order(int32_t side, double quantity) {
  return {Expected::Kind::order, side, quantity, {}};
}
Expected skipped(std::string reason) {
  return {Expected::Kind::skip, 0, 0, std::move(reason)};
}
Expected nothing() {
  return {};
}

struct RuleCase {
  std::string name;
  std::string params;
  double position;                 // this agent's AAPL position when the last signal arrives
  std::vector<SignalSpec> history; // sent first (their own outputs are not checked)
  SignalSpec signal;               // the signal under test
  Expected expected;
};

std::ostream &operator<<(std::ostream &os, const RuleCase &c) {
  return os << c.name;
}

// The harness wants strings that outlive the th_signal.
struct SignalFeeder {
  PluginHarness &plugin;
  std::string corr_id = "test_corr_00000001";
  int64_t time = kSignalTime;

  th_status send(const SignalSpec &spec) {
    th_signal sig = th::test::make_signal(corr_id, spec.instrument, spec.action, spec.strength,
                                          spec.price.value_or(0), time);
    if (!spec.price)
      sig.flags &= ~TH_SIGNAL_HAS_PRICE;
    time += 1'000'000'000;
    return plugin.d->on_signal(plugin.inst, &sig);
  }
};

class MomentumRule : public ::testing::TestWithParam<RuleCase> {};

TEST_P(MomentumRule, LastSignalGivesExpectedDecision) {
  const RuleCase &c = GetParam();
  PluginHarness plugin(MOMENTUM_SO, c.params);
  SignalFeeder feed{plugin};
  for (const SignalSpec &s : c.history)
    ASSERT_EQ(feed.send(s), TH_OK) << plugin.error();

  plugin.recorder.positions[{"", "AAPL"}].quantity = c.position;
  const size_t intents_before = plugin.recorder.intents.size();
  const size_t audits_before = plugin.recorder.audits.size();
  feed.corr_id = "last_signal_0001";
  ASSERT_EQ(feed.send(c.signal), TH_OK) << plugin.error();

  const auto &intents = plugin.recorder.intents;
  const auto &audits = plugin.recorder.audits;
  switch (c.expected.kind) {
  case Expected::Kind::order:
    ASSERT_EQ(intents.size(), intents_before + 1);
    EXPECT_EQ(audits.size(), audits_before);
    EXPECT_EQ(intents.back().side, c.expected.side);
    EXPECT_DOUBLE_EQ(intents.back().quantity, c.expected.quantity);
    EXPECT_EQ(intents.back().corr_id, "last_signal_0001");
    EXPECT_EQ(intents.back().order_type, TH_ORDER_MARKET);
    break;
  case Expected::Kind::skip: {
    EXPECT_EQ(intents.size(), intents_before);
    ASSERT_EQ(audits.size(), audits_before + 1);
    EXPECT_EQ(audits.back().first, "decision_made");
    auto data = nlohmann::json::parse(audits.back().second);
    EXPECT_EQ(data["agent_decision"], "skip");
    EXPECT_EQ(data["reason"], c.expected.reason) << data["detail"];
    break;
  }
  case Expected::Kind::nothing:
    EXPECT_EQ(intents.size(), intents_before);
    EXPECT_EQ(audits.size(), audits_before);
    break;
  }
}

const std::string kLookback3 = R"({"lookback":3})";

INSTANTIATE_TEST_SUITE_P(
    Table, MomentumRule,
    ::testing::Values(
        // Warm-up: fewer than lookback prices known, the signal is followed even against the trend.
        RuleCase{
            "warmup_follows_buy_below_mean", kLookback3, 0, {hold(100)}, buy(90), order(TH_SIDE_BUY, 100)},
        RuleCase{"warmup_follows_sell_above_mean",
                 kLookback3,
                 0,
                 {hold(100)},
                 sell(110),
                 order(TH_SIDE_SELL, 100)},
        // Window full (the current price is included): price vs SMA confirms or skips.
        RuleCase{"confirmed_buy_above_sma",
                 kLookback3,
                 0,
                 {hold(100), hold(101)},
                 buy(102),
                 order(TH_SIDE_BUY, 100)},
        RuleCase{"confirmed_sell_below_sma",
                 kLookback3,
                 0,
                 {hold(102), hold(101)},
                 sell(100),
                 order(TH_SIDE_SELL, 100)},
        RuleCase{"buy_skipped_below_sma",
                 kLookback3,
                 0,
                 {hold(102), hold(101)},
                 buy(100),
                 skipped("sma_not_confirmed")},
        RuleCase{"sell_skipped_above_sma",
                 kLookback3,
                 0,
                 {hold(100), hold(101)},
                 sell(102),
                 skipped("sma_not_confirmed")},
        RuleCase{"buy_at_sma_acts",
                 kLookback3,
                 0,
                 {hold(150.1), hold(150.1)},
                 buy(150.1),
                 order(TH_SIDE_BUY, 100)},
        RuleCase{
            "sell_at_sma_acts", kLookback3, 0, {hold(0.1), hold(0.7)}, sell(0.4), order(TH_SIDE_SELL, 100)},
        // Skipped signals still feed the window: 100, 100, 99 -> SMA 99.67 > 99.
        RuleCase{"skipped_signals_feed_window",
                 kLookback3,
                 0,
                 {buy(100, 0.1), buy(100, 0.1)},
                 buy(99),
                 skipped("sma_not_confirmed")},
        // Windows are per instrument: MSFT prices do not fill AAPL's window.
        RuleCase{"window_per_instrument",
                 kLookback3,
                 0,
                 {{TH_SIGNAL_HOLD, 0.8, 200, "MSFT"}, {TH_SIGNAL_HOLD, 0.8, 200, "MSFT"}, hold(100)},
                 buy(90),
                 order(TH_SIDE_BUY, 100)},
        // Quantity and max_position.
        RuleCase{"buy_clamped_at_max_position", "{}", 950, {}, buy(150), order(TH_SIDE_BUY, 50)},
        RuleCase{
            "buy_skipped_max_position_reached", "{}", 1000, {}, buy(150), skipped("max_position_reached")},
        RuleCase{"buy_skipped_above_max_position", "{}", 1200, {}, buy(150), skipped("max_position_reached")},
        RuleCase{"sell_clamped_at_short_max", "{}", -950, {}, sell(150), order(TH_SIDE_SELL, 50)},
        RuleCase{
            "sell_skipped_short_max_reached", "{}", -1000, {}, sell(150), skipped("max_position_reached")},
        RuleCase{"sell_from_long_reduces", "{}", 500, {}, sell(150), order(TH_SIDE_SELL, 100)},
        RuleCase{"base_quantity_param",
                 R"({"base_quantity":25,"max_position":30})",
                 10,
                 {},
                 buy(150),
                 order(TH_SIDE_BUY, 20)},
        // close / hold.
        RuleCase{"close_long_sells_position", "{}", 300, {}, close_signal(), order(TH_SIDE_SELL, 300)},
        RuleCase{"close_short_buys_position", "{}", -250, {}, close_signal(), order(TH_SIDE_BUY, 250)},
        RuleCase{"close_flat_does_nothing", "{}", 0, {}, close_signal(), nothing()},
        RuleCase{"close_ignores_strength", "{}", 40, {}, close_signal(0.1), order(TH_SIDE_SELL, 40)},
        RuleCase{"close_ignores_sma",
                 kLookback3,
                 1500,
                 {hold(100), hold(100)},
                 {TH_SIGNAL_CLOSE, 0.8, 1},
                 order(TH_SIDE_SELL, 1500)},
        RuleCase{"hold_does_nothing", "{}", 0, {}, hold(150), nothing()},
        // Strength threshold: equal acts, below skips.
        RuleCase{"strength_equal_to_min_acts", "{}", 0, {}, buy(150, 0.6), order(TH_SIDE_BUY, 100)},
        RuleCase{"strength_below_min_skips", "{}", 0, {}, buy(150, 0.59), skipped("below_min_strength")},
        RuleCase{"min_strength_param",
                 R"({"min_strength":0.9})",
                 0,
                 {},
                 sell(150, 0.85),
                 skipped("below_min_strength")},
        // Signals without a price: followed during warm-up, skipped once confirmation is needed.
        RuleCase{"no_price_in_warmup_follows",
                 kLookback3,
                 0,
                 {hold(100)},
                 buy(std::nullopt),
                 order(TH_SIDE_BUY, 100)},
        RuleCase{"no_price_with_full_window_skips",
                 kLookback3,
                 0,
                 {hold(100), hold(101), hold(102)},
                 sell(std::nullopt),
                 skipped("no_price")}),
    [](const ::testing::TestParamInfo<RuleCase> &info) { return info.param.name; });

TEST(Momentum, SeedExampleGivesSeedIntent) {
  PluginHarness plugin(MOMENTUM_SO, "{}");
  std::string corr_id = "tradingview_5f2a9c1e", instrument = "AAPL";
  th_signal sig = th::test::make_signal(corr_id, instrument, TH_SIGNAL_BUY, 0.8, 150.25, kSignalTime);
  ASSERT_EQ(plugin.d->on_signal(plugin.inst, &sig), TH_OK) << plugin.error();

  ASSERT_EQ(plugin.recorder.intents.size(), 1u);
  const auto &i = plugin.recorder.intents[0];
  EXPECT_EQ(i.corr_id, corr_id);
  EXPECT_EQ(i.instrument, "AAPL");
  EXPECT_EQ(i.side, TH_SIDE_BUY);
  EXPECT_EQ(i.quantity, 100);
  EXPECT_EQ(i.order_type, TH_ORDER_MARKET);
  EXPECT_EQ(i.time_in_force, TH_TIF_DAY);
  EXPECT_EQ(i.timestamp_ns, kSignalTime);
  EXPECT_EQ(i.strategy, "momentum");
  EXPECT_EQ(i.flags, TH_INTENT_HAS_MAX_POSITION | TH_INTENT_HAS_STOP_LOSS);
  EXPECT_EQ(i.max_position, 1000);
  EXPECT_EQ(i.stop_loss, 0.02);
  EXPECT_EQ(plugin.recorder.metrics["momentum_intents_emitted_total{side=buy}"], 1);
  EXPECT_TRUE(plugin.recorder.audits.empty());
}

// The sequence documented in plugins/momentum/README.md.
TEST(Momentum, ReadmeSequenceExample) {
  PluginHarness plugin(MOMENTUM_SO, R"({"lookback":3})");
  SignalFeeder feed{plugin};
  for (const SignalSpec &s :
       {hold(100), buy(90), sell(95), buy(94), buy(80, 0.5), buy(85), buy(std::nullopt)})
    ASSERT_EQ(feed.send(s), TH_OK);
  const auto &intents = plugin.recorder.intents;
  ASSERT_EQ(intents.size(), 3u);
  EXPECT_EQ(intents[0].side, TH_SIDE_BUY);
  EXPECT_EQ(intents[1].side, TH_SIDE_SELL);
  EXPECT_EQ(intents[2].side, TH_SIDE_BUY);
  std::vector<std::string> reasons;
  for (const auto &[type, data] : plugin.recorder.audits)
    reasons.push_back(nlohmann::json::parse(data)["reason"]);
  EXPECT_EQ(reasons, (std::vector<std::string>{"below_min_strength", "sma_not_confirmed", "no_price"}));
}

TEST(Momentum, TakeProfitIsCarriedWhenSet) {
  PluginHarness plugin(MOMENTUM_SO, R"({"take_profit":0.05,"stop_loss":0.01,"max_position":500})");
  SignalFeeder feed{plugin};
  ASSERT_EQ(feed.send(sell(150)), TH_OK);
  ASSERT_EQ(plugin.recorder.intents.size(), 1u);
  const auto &i = plugin.recorder.intents[0];
  EXPECT_EQ(i.flags, TH_INTENT_HAS_MAX_POSITION | TH_INTENT_HAS_STOP_LOSS | TH_INTENT_HAS_TAKE_PROFIT);
  EXPECT_EQ(i.take_profit, 0.05);
  EXPECT_EQ(i.stop_loss, 0.01);
  EXPECT_EQ(i.max_position, 500);
}

TEST(Momentum, CloseCarriesOnlyMaxPosition) {
  PluginHarness plugin(MOMENTUM_SO, R"({"take_profit":0.05})");
  plugin.recorder.positions[{"", "AAPL"}].quantity = 70;
  SignalFeeder feed{plugin};
  ASSERT_EQ(feed.send(close_signal()), TH_OK);
  ASSERT_EQ(plugin.recorder.intents.size(), 1u);
  EXPECT_EQ(plugin.recorder.intents[0].flags, TH_INTENT_HAS_MAX_POSITION);
  EXPECT_EQ(plugin.recorder.intents[0].stop_loss, 0);
  EXPECT_EQ(plugin.recorder.intents[0].take_profit, 0);
}

TEST(Momentum, SkipIsCountedAndAuditedWithNumbers) {
  PluginHarness plugin(MOMENTUM_SO, R"({"lookback":2})");
  SignalFeeder feed{plugin};
  feed.corr_id = "skip_corr_000001";
  ASSERT_EQ(feed.send(buy(150, 0.5)), TH_OK);
  ASSERT_EQ(feed.send(buy(149)), TH_OK); // window [150, 149], SMA 149.5

  EXPECT_TRUE(plugin.recorder.intents.empty());
  EXPECT_EQ(plugin.recorder.metrics["momentum_signals_skipped_total{reason=below_min_strength}"], 1);
  EXPECT_EQ(plugin.recorder.metrics["momentum_signals_skipped_total{reason=sma_not_confirmed}"], 1);
  ASSERT_EQ(plugin.recorder.audits.size(), 2u);
  auto first = nlohmann::json::parse(plugin.recorder.audits[0].second);
  EXPECT_EQ(first["detail"], "strength 0.5 is below min_strength 0.6");
  EXPECT_EQ(first["instrument"], "AAPL");
  EXPECT_EQ(first["signal"], "buy");
  EXPECT_EQ(first["price"], 150);
  auto second = nlohmann::json::parse(plugin.recorder.audits[1].second);
  EXPECT_EQ(second["agent_decision"], "skip");
  EXPECT_EQ(second["reason"], "sma_not_confirmed");
  EXPECT_EQ(second["detail"], "buy at 149 not confirmed: price is below SMA(2) 149.5");
  EXPECT_EQ(second["sma"], 149.5);
  EXPECT_EQ(second["strategy"], "momentum");
}

TEST(Momentum, MaxPositionSkipNamesPosition) {
  PluginHarness plugin(MOMENTUM_SO, "{}");
  plugin.recorder.positions[{"", "AAPL"}].quantity = -1000;
  SignalFeeder feed{plugin};
  ASSERT_EQ(feed.send(sell(150)), TH_OK);
  ASSERT_EQ(plugin.recorder.audits.size(), 1u);
  auto data = nlohmann::json::parse(plugin.recorder.audits[0].second);
  EXPECT_EQ(data["detail"], "position -1000 leaves no room to sell under max_position 1000");
  EXPECT_EQ(data["position"], -1000);
}

TEST(Momentum, SignalsWithoutPriceDoNotEnterWindow) {
  // lookback 2: 100, (no price), 99 -> window [100, 99], SMA 99.5, so the buy at 99 is skipped.
  // Had the priceless signal entered the window, the window would be full one signal earlier.
  PluginHarness plugin(MOMENTUM_SO, R"({"lookback":2})");
  SignalFeeder feed{plugin};
  ASSERT_EQ(feed.send(hold(100)), TH_OK);
  ASSERT_EQ(feed.send(buy(std::nullopt)), TH_OK);
  EXPECT_EQ(plugin.recorder.intents.size(), 1u); // warm-up: followed
  ASSERT_EQ(feed.send(buy(99)), TH_OK);
  EXPECT_EQ(plugin.recorder.intents.size(), 1u);
  EXPECT_EQ(plugin.recorder.metrics["momentum_signals_skipped_total{reason=sma_not_confirmed}"], 1);
}

TEST(Momentum, WindowKeepsOnlyLastLookbackPrices) {
  // lookback 2: 200, 100, 101 -> window [100, 101], SMA 100.5: a buy at 101 is confirmed although
  // it is below the mean of all three prices.
  PluginHarness plugin(MOMENTUM_SO, R"({"lookback":2})");
  SignalFeeder feed{plugin};
  ASSERT_EQ(feed.send(hold(200)), TH_OK);
  ASSERT_EQ(feed.send(hold(100)), TH_OK);
  ASSERT_EQ(feed.send(buy(101)), TH_OK);
  EXPECT_EQ(plugin.recorder.intents.size(), 1u);
}

TEST(Momentum, InstancesKeepSeparateState) {
  PluginHarness warmed(MOMENTUM_SO, R"({"lookback":2})");
  PluginHarness fresh(MOMENTUM_SO, R"({"lookback":2})");
  SignalFeeder warm_feed{warmed}, fresh_feed{fresh};
  ASSERT_EQ(warm_feed.send(hold(200)), TH_OK);
  ASSERT_EQ(warm_feed.send(buy(100)), TH_OK);  // window full: skipped
  ASSERT_EQ(fresh_feed.send(buy(100)), TH_OK); // own window: warm-up, followed
  EXPECT_TRUE(warmed.recorder.intents.empty());
  EXPECT_EQ(fresh.recorder.intents.size(), 1u);
}

TEST(Momentum, DescriptorIdentity) {
  PluginHarness plugin(MOMENTUM_SO, "{}");
  EXPECT_EQ(th::test::s(plugin.d->name), "momentum");
  EXPECT_EQ(th::test::s(plugin.d->version), "1.0.0");
  EXPECT_EQ(plugin.d->kind, TH_KIND_STRATEGY);
  EXPECT_EQ(plugin.d->abi_major, TH_ABI_VERSION_MAJOR);
  EXPECT_NE(plugin.d->on_signal, nullptr);
}

TEST(Momentum, SchemaDefaultsMatchBehaviour) {
  PluginHarness plugin(MOMENTUM_SO, "{}");
  auto schema = nlohmann::json::parse(th::test::s(plugin.d->params_schema));
  EXPECT_EQ(schema["additionalProperties"], false);
  const auto &p = schema["properties"];
  EXPECT_EQ(p["lookback"]["default"], 20);
  EXPECT_EQ(p["min_strength"]["default"], 0.6);
  EXPECT_EQ(p["base_quantity"]["default"], 100);
  EXPECT_EQ(p["max_position"]["default"], 1000);
  EXPECT_EQ(p["stop_loss"]["default"], 0.02);
  EXPECT_FALSE(p["take_profit"].contains("default"));
  EXPECT_EQ(p["order_type"]["default"], "market");
  // lookback 20 by default: 19 priced signals leave the window short, so a falling buy is followed.
  SignalFeeder feed{plugin};
  for (int i = 0; i < 18; ++i)
    ASSERT_EQ(feed.send(hold(200)), TH_OK);
  ASSERT_EQ(feed.send(buy(100)), TH_OK); // 19th price
  EXPECT_EQ(plugin.recorder.intents.size(), 1u);
  ASSERT_EQ(feed.send(buy(100)), TH_OK); // 20th price: SMA 190 > 100
  EXPECT_EQ(plugin.recorder.intents.size(), 1u);
}

TEST(Momentum, GoodParamsAcceptedBySchemaAndCreate) {
  PluginHarness plugin(MOMENTUM_SO, "{}");
  const std::string schema = th::test::s(plugin.d->params_schema);
  for (const std::string good :
       {"{}", R"({"lookback":1})", R"({"lookback":10000,"min_strength":0,"base_quantity":0.001})",
        R"({"min_strength":1,"max_position":0.001,"stop_loss":0.5,"take_profit":2,"order_type":"market"})"}) {
    EXPECT_TRUE(th::test::schema_accepts(schema, good)) << good;
    EXPECT_NO_THROW(PluginHarness(MOMENTUM_SO, good)) << good;
  }
}

TEST(Momentum, BadParamsRejectedBySchemaAndCreate) {
  PluginHarness plugin(MOMENTUM_SO, "{}");
  const std::string schema = th::test::s(plugin.d->params_schema);
  struct Bad {
    std::string params, error_mentions;
  };
  for (const Bad &bad : std::vector<Bad>{{R"({"lookback":0})", "lookback"},
                                         {R"({"lookback":10001})", "lookback"},
                                         {R"({"lookback":2.5})", "lookback must be an integer"},
                                         {R"({"lookback":"20"})", "lookback must be a number"},
                                         {R"({"min_strength":1.1})", "min_strength"},
                                         {R"({"min_strength":-0.1})", "min_strength"},
                                         {R"({"base_quantity":0})", "base_quantity"},
                                         {R"({"max_position":-5})", "max_position"},
                                         {R"({"stop_loss":0})", "stop_loss"},
                                         {R"({"stop_loss":1})", "stop_loss"},
                                         {R"({"take_profit":0})", "take_profit"},
                                         {R"({"order_type":"limit"})", "order_type"},
                                         {R"({"lookbak":20})", "unknown parameter \"lookbak\""},
                                         {"[]", "must be a JSON object"}}) {
    EXPECT_FALSE(th::test::schema_accepts(schema, bad.params)) << bad.params;
    try {
      PluginHarness rejected(MOMENTUM_SO, bad.params);
      ADD_FAILURE() << "create accepted " << bad.params;
    } catch (const std::runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find(bad.error_mentions), std::string::npos) << e.what();
    }
  }
}

TEST(Momentum, NotJsonParamsRejectedByCreate) {
  EXPECT_THROW(PluginHarness(MOMENTUM_SO, "{lookback: 20"), std::runtime_error);
}

} // namespace
