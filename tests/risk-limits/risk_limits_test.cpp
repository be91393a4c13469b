// The risk-limits plugin, loaded from risk-limits.so and driven through the C ABI with a
// recording host: every rule with its label and reason, rule order, the order-rate window on the
// host clock, the kill-switch file, and the params schema.
#include "support/params_schema_check.hpp"
#include "support/plugin_harness.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace {

using th::test::PluginHarness;
namespace fs = std::filesystem;

constexpr int64_t kSecond = 1'000'000'000;

struct Order {
  std::string agent = "momentum_v1";
  std::string instrument = "AAPL";
  int32_t side = TH_SIDE_BUY;
  double quantity = 100;
  std::optional<double> price_limit;
};

Order buy(double quantity, std::string instrument = "AAPL") {
  return {"momentum_v1", std::move(instrument), TH_SIDE_BUY, quantity, std::nullopt};
}
Order sell(double quantity, std::string instrument = "AAPL") {
  return {"momentum_v1", std::move(instrument), TH_SIDE_SELL, quantity, std::nullopt};
}
Order limit_buy(double quantity, double price) {
  return {"momentum_v1", "AAPL", TH_SIDE_BUY, quantity, price};
}

// Runs check_order; returns (rule, reason) of the rejection, or nullopt when approved.
std::optional<std::pair<std::string, std::string>> check(PluginHarness &plugin, const Order &order) {
  const std::string corr_id = "risk_test_corr_01";
  th_order_intent intent{};
  intent.struct_size = sizeof intent;
  intent.corr_id = {corr_id.data(), corr_id.size()};
  intent.agent_id = {order.agent.data(), order.agent.size()};
  intent.instrument = {order.instrument.data(), order.instrument.size()};
  intent.side = order.side;
  intent.order_type = order.price_limit ? TH_ORDER_LIMIT : TH_ORDER_MARKET;
  intent.quantity = order.quantity;
  if (order.price_limit) {
    intent.flags |= TH_INTENT_HAS_PRICE_LIMIT;
    intent.price_limit = *order.price_limit;
  }
  const size_t before = plugin.recorder.rejections.size();
  const th_status st = plugin.d->check_order(plugin.inst, &intent);
  if (st == TH_OK) {
    EXPECT_EQ(plugin.recorder.rejections.size(), before) << "approved but reject_order was called";
    return std::nullopt;
  }
  EXPECT_EQ(st, TH_REJECTED) << plugin.error();
  EXPECT_EQ(plugin.recorder.rejections.size(), before + 1) << "rejected without exactly one reject_order";
  if (plugin.recorder.rejections.size() != before + 1)
    return std::make_pair(std::string("?"), std::string("?"));
  return plugin.recorder.rejections.back();
}

void send_price(PluginHarness &plugin, const std::string &instrument, double price) {
  const std::string corr_id = "risk_test_signal_1";
  th_signal sig = th::test::make_signal(corr_id, instrument, TH_SIGNAL_HOLD, 0.5, price);
  ASSERT_EQ(plugin.d->on_signal(plugin.inst, &sig), TH_OK);
}

void send_fill(PluginHarness &plugin, const std::string &instrument, double quantity, double price) {
  const std::string corr_id = "risk_test_fill_01";
  th_fill fill{};
  fill.struct_size = sizeof fill;
  fill.corr_id = {corr_id.data(), corr_id.size()};
  fill.instrument = {instrument.data(), instrument.size()};
  fill.side = TH_SIDE_BUY;
  fill.fill_status = TH_FILL_COMPLETE;
  fill.quantity_filled = quantity;
  fill.avg_fill_price = price;
  ASSERT_EQ(plugin.d->on_fill(plugin.inst, &fill), TH_OK);
}

struct RuleCase {
  std::string name;
  std::string params;
  double position = 0;         // momentum_v1's AAPL position
  double realized_today = 0;   // momentum_v1's realized PnL today over all instruments
  std::optional<double> price; // last AAPL signal price
  Order order;
  std::string rule;   // empty: approved
  std::string reason; // exact text
};

std::ostream &operator<<(std::ostream &os, const RuleCase &c) {
  return os << c.name;
}

class RiskRule : public ::testing::TestWithParam<RuleCase> {};

TEST_P(RiskRule, RuleLabelAndReason) {
  const RuleCase &c = GetParam();
  PluginHarness plugin(RISK_LIMITS_SO, c.params);
  plugin.recorder.positions[{"momentum_v1", "AAPL"}].quantity = c.position;
  plugin.recorder.positions[{"momentum_v1", ""}].realized_pnl_today = c.realized_today;
  if (c.price)
    send_price(plugin, "AAPL", *c.price);

  auto result = check(plugin, c.order);
  if (c.rule.empty()) {
    EXPECT_FALSE(result) << result->first << ": " << result->second;
  } else {
    ASSERT_TRUE(result) << "approved";
    EXPECT_EQ(result->first, c.rule);
    EXPECT_EQ(result->second, c.reason);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, RiskRule,
    ::testing::Values(
        RuleCase{"no_rules_approve", "{}", 5000, -1e9, {}, buy(1e6), "", ""},
        // max_order_quantity
        RuleCase{"quantity_over_limit",
                 R"({"max_order_quantity":200})",
                 0,
                 0,
                 {},
                 buy(500),
                 "max_order_quantity",
                 "order quantity 500 exceeds max_order_quantity 200 for AAPL"},
        RuleCase{"quantity_at_limit", R"({"max_order_quantity":200})", 0, 0, {}, buy(200), "", ""},
        // max_order_notional
        RuleCase{"notional_price_limit",
                 R"({"max_order_notional":50000})",
                 0,
                 0,
                 {},
                 limit_buy(500, 150.25),
                 "max_order_notional",
                 "order notional 75125 (500 x 150.25) exceeds max_order_notional 50000 for AAPL"},
        RuleCase{"notional_price_limit_wins_over_signal", R"({"max_order_notional":50000})", 0, 0, 1000.0,
                 limit_buy(300, 150), "", ""},
        RuleCase{"notional_signal_price", R"({"max_order_notional":50000})", 0, 0, 150.25, buy(400),
                 "max_order_notional",
                 "order notional 60100 (400 x 150.25) exceeds max_order_notional 50000 for AAPL"},
        RuleCase{"notional_signal_price_under", R"({"max_order_notional":50000})", 0, 0, 150.25, buy(300), "",
                 ""},
        RuleCase{"notional_no_price_rejects",
                 R"({"max_order_notional":50000})",
                 0,
                 0,
                 {},
                 buy(1),
                 "max_order_notional",
                 "no price known for AAPL to check max_order_notional 50000 (no price_limit, no signal or "
                 "fill price "
                 "seen)"},
        RuleCase{"notional_no_price_allowed",
                 R"({"max_order_notional":50000,"notional_without_price":"allow"})",
                 0,
                 0,
                 {},
                 buy(1e6),
                 "",
                 ""},
        // max_position
        RuleCase{"position_over_limit",
                 R"({"max_position":1000})",
                 1000,
                 0,
                 {},
                 buy(100),
                 "max_position",
                 "position 1100 would exceed max_position 1000 for AAPL (now 1000, buy 100)"},
        RuleCase{"position_at_limit", R"({"max_position":1000})", 900, 0, {}, buy(100), "", ""},
        RuleCase{"short_position_over_limit",
                 R"({"max_position":1000})",
                 -950,
                 0,
                 {},
                 sell(100),
                 "max_position",
                 "position -1050 would exceed max_position 1000 for AAPL (now -950, sell 100)"},
        RuleCase{"reducing_over_limit_rejected_by_default",
                 R"({"max_position":1000})",
                 1500,
                 0,
                 {},
                 sell(100),
                 "max_position",
                 "position 1400 would exceed max_position 1000 for AAPL (now 1500, sell 100)"},
        RuleCase{"reducing_over_limit_allowed_when_enabled",
                 R"({"max_position":1000,"allow_reducing_orders":true})",
                 1500,
                 0,
                 {},
                 sell(100),
                 "",
                 ""},
        RuleCase{"flip_is_not_reducing",
                 R"({"max_position":1000,"allow_reducing_orders":true})",
                 500,
                 0,
                 {},
                 sell(1600),
                 "max_position",
                 "position -1100 would exceed max_position 1000 for AAPL (now 500, sell 1600)"},
        RuleCase{"position_of_other_instrument_ignored",
                 R"({"max_position":1000})",
                 1000,
                 0,
                 {},
                 buy(100, "MSFT"),
                 "",
                 ""},
        // max_daily_loss
        RuleCase{"daily_loss_reached",
                 R"({"max_daily_loss":5000})",
                 0,
                 -5000,
                 {},
                 buy(100),
                 "max_daily_loss",
                 "realized PnL today -5000 for agent momentum_v1 has reached max_daily_loss 5000"},
        RuleCase{"daily_loss_not_reached", R"({"max_daily_loss":5000})", 0, -4999.5, {}, buy(100), "", ""},
        RuleCase{"daily_loss_reducing_rejected_by_default",
                 R"({"max_daily_loss":5000})",
                 300,
                 -6000,
                 {},
                 sell(300),
                 "max_daily_loss",
                 "realized PnL today -6000 for agent momentum_v1 has reached max_daily_loss 5000"},
        RuleCase{"daily_loss_reducing_allowed_when_enabled",
                 R"({"max_daily_loss":5000,"allow_reducing_orders":true})",
                 300,
                 -6000,
                 {},
                 sell(300),
                 "",
                 ""},
        // allow / deny lists
        RuleCase{
            "allow_exact", R"({"allow_instruments":["AAPL","BTC/*"]})", 0, 0, {}, buy(1, "AAPL"), "", ""},
        RuleCase{
            "allow_glob", R"({"allow_instruments":["AAPL","BTC/*"]})", 0, 0, {}, buy(1, "BTC/USD"), "", ""},
        RuleCase{"allow_miss",
                 R"({"allow_instruments":["AAPL","BTC/*"]})",
                 0,
                 0,
                 {},
                 buy(1, "TSLA"),
                 "instrument_not_allowed",
                 "instrument TSLA matches no allow_instruments entry"},
        RuleCase{"allow_glob_is_prefix_not_substring",
                 R"({"allow_instruments":["BTC/*"]})",
                 0,
                 0,
                 {},
                 buy(1, "XBTC/USD"),
                 "instrument_not_allowed",
                 "instrument XBTC/USD matches no allow_instruments entry"},
        RuleCase{"allow_exact_is_not_prefix",
                 R"({"allow_instruments":["AAPL"]})",
                 0,
                 0,
                 {},
                 buy(1, "AAPLX"),
                 "instrument_not_allowed",
                 "instrument AAPLX matches no allow_instruments entry"},
        RuleCase{"deny_glob",
                 R"({"deny_instruments":["TSLA","ETH/*"]})",
                 0,
                 0,
                 {},
                 buy(1, "ETH/USD"),
                 "instrument_denied",
                 "instrument ETH/USD is denied by deny_instruments entry \"ETH/*\""},
        RuleCase{"deny_exact",
                 R"({"deny_instruments":["TSLA","ETH/*"]})",
                 0,
                 0,
                 {},
                 buy(1, "TSLA"),
                 "instrument_denied",
                 "instrument TSLA is denied by deny_instruments entry \"TSLA\""},
        RuleCase{"deny_miss", R"({"deny_instruments":["TSLA","ETH/*"]})", 0, 0, {}, buy(1, "AAPL"), "", ""},
        RuleCase{"deny_wins_over_allow",
                 R"({"allow_instruments":["*"],"deny_instruments":["TSLA"]})",
                 0,
                 0,
                 {},
                 buy(1, "TSLA"),
                 "instrument_denied",
                 "instrument TSLA is denied by deny_instruments entry \"TSLA\""},
        // Rule order: the first failing rule is the one reported.
        RuleCase{"order_deny_before_quantity",
                 R"({"deny_instruments":["AAPL"],"max_order_quantity":1})",
                 0,
                 0,
                 {},
                 buy(100),
                 "instrument_denied",
                 "instrument AAPL is denied by deny_instruments entry \"AAPL\""},
        RuleCase{"order_quantity_before_notional",
                 R"({"max_order_quantity":10,"max_order_notional":1})",
                 0,
                 0,
                 {},
                 buy(100),
                 "max_order_quantity",
                 "order quantity 100 exceeds max_order_quantity 10 for AAPL"},
        RuleCase{"order_notional_before_position", R"({"max_order_notional":100,"max_position":10})", 0, 0,
                 50.0, buy(100), "max_order_notional",
                 "order notional 5000 (100 x 50) exceeds max_order_notional 100 for AAPL"},
        RuleCase{"order_position_before_daily_loss",
                 R"({"max_position":10,"max_daily_loss":1})",
                 0,
                 -5,
                 {},
                 buy(100),
                 "max_position",
                 "position 100 would exceed max_position 10 for AAPL (now 0, buy 100)"}),
    [](const ::testing::TestParamInfo<RuleCase> &info) { return info.param.name; });

TEST(RiskLimits, NotionalUsesLatestSignalOrFillPrice) {
  PluginHarness plugin(RISK_LIMITS_SO, R"({"max_order_notional":50000})");
  send_price(plugin, "AAPL", 100);
  EXPECT_FALSE(check(plugin, buy(300))); // 30000
  send_fill(plugin, "AAPL", 10, 200);
  auto r = check(plugin, buy(300)); // 60000 at the fill price
  ASSERT_TRUE(r);
  EXPECT_EQ(r->second, "order notional 60000 (300 x 200) exceeds max_order_notional 50000 for AAPL");
  send_price(plugin, "AAPL", 150);
  EXPECT_FALSE(check(plugin, buy(300))); // 45000
  // Prices are per instrument: MSFT has none.
  r = check(plugin, buy(1, "MSFT"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, "max_order_notional");
}

TEST(RiskLimits, PositionIsReadForTheIntentsAgent) {
  PluginHarness plugin(RISK_LIMITS_SO, R"({"max_position":1000})");
  plugin.recorder.positions[{"other_agent", "AAPL"}].quantity = 1000;
  EXPECT_FALSE(check(plugin, buy(100)));
  Order other = buy(100);
  other.agent = "other_agent";
  auto r = check(plugin, other);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, "max_position");
}

TEST(RiskLimits, OrdersPerSecondSlidingWindowOnHostClock) {
  PluginHarness plugin(RISK_LIMITS_SO, R"({"max_orders_per_second":2})");
  const int64_t t0 = plugin.recorder.now;
  EXPECT_FALSE(check(plugin, buy(1)));
  plugin.recorder.now = t0 + kSecond / 2;
  EXPECT_FALSE(check(plugin, buy(1)));
  plugin.recorder.now = t0 + kSecond - 1; // both still within the last second
  auto r = check(plugin, buy(1));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, "max_orders_per_second");
  EXPECT_EQ(r->second,
            "agent momentum_v1 already has 2 orders approved in the last second (max_orders_per_second 2)");

  Order other = buy(1);
  other.agent = "other_agent"; // per agent
  EXPECT_FALSE(check(plugin, other));

  plugin.recorder.now = t0 + kSecond; // the order at t0 leaves the window (now - 1 s, now]
  EXPECT_FALSE(check(plugin, buy(1)));
  r = check(plugin, buy(1)); // orders at t0 + 0.5 s and t0 + 1 s
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, "max_orders_per_second");
}

TEST(RiskLimits, OrdersRejectedByOtherRulesDoNotUseRateBudget) {
  PluginHarness plugin(RISK_LIMITS_SO, R"({"max_orders_per_second":1,"max_order_quantity":10})");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(check(plugin, buy(100))->first, "max_order_quantity");
  EXPECT_FALSE(check(plugin, buy(5)));
  EXPECT_EQ(check(plugin, buy(5))->first, "max_orders_per_second");
}

class KillSwitchTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "risk_limits_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir = pattern;
    kill_file = dir / "KILL";
  }
  void TearDown() override { fs::remove_all(dir); }
  void engage() { std::ofstream(kill_file) << "engaged\n"; }
  std::string params(int check_ms) const {
    return nlohmann::json{{"kill_switch_file", kill_file.string()}, {"kill_switch_check_ms", check_ms}}
        .dump();
  }
  fs::path dir, kill_file;
};

TEST_F(KillSwitchTest, FilePresenceRejectsEverythingAndRemovalRestores) {
  PluginHarness plugin(RISK_LIMITS_SO, params(0));
  EXPECT_FALSE(check(plugin, buy(1)));
  EXPECT_EQ(plugin.recorder.metrics["risk_limits_kill_switch_engaged{}"], 0);

  engage();
  for (const Order &o : {buy(1), sell(1, "BTC/USD")}) {
    auto r = check(plugin, o);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->first, "kill_switch");
    EXPECT_EQ(r->second, "kill switch engaged: " + kill_file.string() + " exists");
  }
  EXPECT_EQ(plugin.recorder.metrics["risk_limits_kill_switch_engaged{}"], 1);

  fs::remove(kill_file);
  EXPECT_FALSE(check(plugin, buy(1)));
  EXPECT_EQ(plugin.recorder.metrics["risk_limits_kill_switch_engaged{}"], 0);
}

TEST_F(KillSwitchTest, KillSwitchComesBeforeEveryOtherRule) {
  PluginHarness plugin(RISK_LIMITS_SO, nlohmann::json{{"kill_switch_file", kill_file.string()},
                                                      {"kill_switch_check_ms", 0},
                                                      {"deny_instruments", {"AAPL"}}}
                                           .dump());
  engage();
  EXPECT_EQ(check(plugin, buy(1))->first, "kill_switch");
}

TEST_F(KillSwitchTest, FileIsCheckedAtMostOncePerInterval) {
  // A 60 s interval: the first check sees no file; creating it is not noticed until 60 s later.
  PluginHarness plugin(RISK_LIMITS_SO, params(60000));
  EXPECT_FALSE(check(plugin, buy(1)));
  engage();
  EXPECT_FALSE(check(plugin, buy(1)));
  // A fresh instance checks on its first order.
  PluginHarness fresh(RISK_LIMITS_SO, params(60000));
  EXPECT_EQ(check(fresh, buy(1))->first, "kill_switch");
}

TEST_F(KillSwitchTest, ReleaseIsSeenAtOnceDespiteTheInterval) {
  // While engaged the file is re-checked on every order, so removing it takes effect at the next
  // order even with a 60 s interval (the host's POST /admin/kill-switch then a webhook).
  engage();
  PluginHarness plugin(RISK_LIMITS_SO, params(60000));
  EXPECT_EQ(check(plugin, buy(1))->first, "kill_switch");
  fs::remove(kill_file);
  EXPECT_FALSE(check(plugin, buy(1)));
  EXPECT_EQ(plugin.recorder.metrics["risk_limits_kill_switch_engaged{}"], 0);
}

TEST_F(KillSwitchTest, PathUnderAFileCountsAsAbsent) {
  engage(); // KILL is a regular file, so KILL/x cannot exist (ENOTDIR)
  PluginHarness plugin(
      RISK_LIMITS_SO,
      nlohmann::json{{"kill_switch_file", (kill_file / "x").string()}, {"kill_switch_check_ms", 0}}.dump());
  EXPECT_FALSE(check(plugin, buy(1)));
}

TEST(RiskLimits, DescriptorIdentity) {
  PluginHarness plugin(RISK_LIMITS_SO, "{}");
  EXPECT_EQ(th::test::s(plugin.d->name), "risk-limits");
  EXPECT_EQ(th::test::s(plugin.d->version), "1.0.0");
  EXPECT_EQ(plugin.d->kind, TH_KIND_RISK);
  EXPECT_NE(plugin.d->check_order, nullptr);
  EXPECT_NE(plugin.d->on_signal, nullptr);
  EXPECT_NE(plugin.d->on_fill, nullptr);
}

TEST(RiskLimits, SchemaDefaults) {
  PluginHarness plugin(RISK_LIMITS_SO, "{}");
  auto schema = nlohmann::json::parse(th::test::s(plugin.d->params_schema));
  EXPECT_EQ(schema["additionalProperties"], false);
  EXPECT_EQ(schema["properties"]["kill_switch_check_ms"]["default"], 100);
  EXPECT_EQ(schema["properties"]["notional_without_price"]["default"], "reject");
  EXPECT_EQ(schema["properties"]["allow_reducing_orders"]["default"], false);
  for (const char *rule :
       {"max_position", "max_order_quantity", "max_order_notional", "max_orders_per_second",
        "allow_instruments", "deny_instruments", "max_daily_loss", "kill_switch_file"})
    EXPECT_FALSE(schema["properties"][rule].contains("default")) << rule << " must be off when absent";
}

TEST(RiskLimits, GoodParamsAcceptedBySchemaAndCreate) {
  PluginHarness plugin(RISK_LIMITS_SO, "{}");
  const std::string schema = th::test::s(plugin.d->params_schema);
  for (const std::string good :
       {"{}",
        R"({"max_position":0,"max_order_quantity":1,"max_order_notional":1e6,"notional_without_price":"allow",
            "max_orders_per_second":1,"allow_instruments":["*"],"deny_instruments":["BTC/*","TSLA"],
            "max_daily_loss":100,"allow_reducing_orders":true,"kill_switch_file":"/tmp/k","kill_switch_check_ms":0})"}) {
    EXPECT_TRUE(th::test::schema_accepts(schema, good)) << good;
    EXPECT_NO_THROW(PluginHarness(RISK_LIMITS_SO, good)) << good;
  }
}

TEST(RiskLimits, BadParamsRejectedBySchemaAndCreate) {
  PluginHarness plugin(RISK_LIMITS_SO, "{}");
  const std::string schema = th::test::s(plugin.d->params_schema);
  struct Bad {
    std::string params, error_mentions;
  };
  for (const Bad &bad :
       std::vector<Bad>{{R"({"max_position":-1})", "max_position"},
                        {R"({"max_order_quantity":0})", "max_order_quantity"},
                        {R"({"max_order_notional":"1000"})", "max_order_notional must be a number"},
                        {R"({"notional_without_price":"ignore"})", "notional_without_price"},
                        {R"({"max_orders_per_second":0})", "max_orders_per_second"},
                        {R"({"max_orders_per_second":1.5})", "must be an integer"},
                        {R"({"allow_instruments":[]})", "allow_instruments"},
                        {R"({"allow_instruments":"AAPL"})", "allow_instruments"},
                        {R"({"deny_instruments":["A*B"]})", "deny_instruments entry \"A*B\""},
                        {R"({"deny_instruments":["AAPL","AAPL"]})", "twice"},
                        {R"({"deny_instruments":[""]})", "deny_instruments"},
                        {R"({"max_daily_loss":0})", "max_daily_loss"},
                        {R"({"allow_reducing_orders":"yes"})", "allow_reducing_orders"},
                        {R"({"kill_switch_file":""})", "kill_switch_file"},
                        {R"({"kill_switch_check_ms":-1})", "kill_switch_check_ms"},
                        {R"({"max_positon":10})", "unknown parameter \"max_positon\""}}) {
    EXPECT_FALSE(th::test::schema_accepts(schema, bad.params)) << bad.params;
    try {
      PluginHarness rejected(RISK_LIMITS_SO, bad.params);
      ADD_FAILURE() << "create accepted " << bad.params;
    } catch (const std::runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find(bad.error_mentions), std::string::npos) << e.what();
    }
  }
}

} // namespace

// Issue 13 finding 11: the host's trading state (ABI 1.1 trading_state), read before every rule.
TEST(RiskLimits, TheHostsTradingStateComesFirst) {
  PluginHarness plugin(RISK_LIMITS_SO, R"({"max_position":1000})");
  plugin.recorder.positions[{"momentum_v1", "AAPL"}].quantity = 300;
  EXPECT_FALSE(check(plugin, buy(100)));
  plugin.recorder.trading_state = TH_TRADING_REDUCING;
  auto r = check(plugin, buy(100));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, "trading_reducing");
  EXPECT_NE(r->second.find("position 300"), std::string::npos) << r->second;
  EXPECT_FALSE(check(plugin, sell(300))) << "a sell that flattens reduces";
  r = check(plugin, sell(301));
  ASSERT_TRUE(r) << "a sell past flat opens a short";
  EXPECT_EQ(r->first, "trading_reducing");
  plugin.recorder.trading_state = TH_TRADING_HALTED;
  r = check(plugin, sell(100));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, "trading_halted");
  plugin.recorder.trading_state = TH_TRADING_ACTIVE;
  EXPECT_FALSE(check(plugin, buy(100)));
}

TEST(RiskLimits, KillSwitchFileIsDeprecatedWithAWarning) {
  fs::path file = fs::temp_directory_path() / "risk-limits-deprecated-kill-switch";
  fs::remove(file);
  PluginHarness plugin(RISK_LIMITS_SO, R"({"kill_switch_file":")" + file.string() + R"("})");
  bool warned = false;
  for (auto &line : plugin.recorder.logs)
    warned = warned || line.find("kill_switch_file is deprecated") != std::string::npos;
  EXPECT_TRUE(warned);
  EXPECT_FALSE(check(plugin, buy(1)));
}
