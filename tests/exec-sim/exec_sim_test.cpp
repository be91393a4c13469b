// exec-sim through the real C ABI: the built exec-sim.so loaded with the plugin harness.
#include "support/plugin_harness.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace {

using th::test::Emitted;
using th::test::PluginHarness;

constexpr int64_t t0 = 1736937000000000000; // 2025-01-15T10:30:00Z, the harness clock
constexpr int64_t one_day = 86'400'000'000'000;
constexpr int64_t ms = 1'000'000;

struct Intent {
  std::string corr_id = "corr_0000001", agent_id = "agent_a", instrument = "AAPL", extra_json;
  std::string order_id; // the host's (ABI 1.1); empty: as from a host that sets none
  int32_t side = TH_SIDE_BUY, type = TH_ORDER_MARKET, tif = 0;
  double quantity = 100;
  std::optional<double> limit, stop, stop_loss, take_profit, max_slippage_bps;
  int64_t timestamp_ns = t0;

  th_order_intent view() const {
    th_order_intent i{};
    i.struct_size = sizeof i;
    i.corr_id = {corr_id.data(), corr_id.size()};
    i.agent_id = {agent_id.data(), agent_id.size()};
    i.instrument = {instrument.data(), instrument.size()};
    i.extra_json = {extra_json.data(), extra_json.size()};
    i.order_id = {order_id.data(), order_id.size()};
    i.side = side, i.order_type = type, i.time_in_force = tif, i.quantity = quantity;
    i.timestamp_ns = timestamp_ns;
    if (limit)
      i.flags |= TH_INTENT_HAS_PRICE_LIMIT, i.price_limit = *limit;
    if (stop)
      i.flags |= TH_INTENT_HAS_STOP_PRICE, i.stop_price = *stop;
    if (stop_loss)
      i.flags |= TH_INTENT_HAS_STOP_LOSS, i.stop_loss = *stop_loss;
    if (take_profit)
      i.flags |= TH_INTENT_HAS_TAKE_PROFIT, i.take_profit = *take_profit;
    if (max_slippage_bps)
      i.flags |= TH_INTENT_HAS_MAX_SLIPPAGE, i.max_slippage_bps = *max_slippage_bps;
    return i;
  }
};

Intent buy(double quantity, std::string corr_id = "corr_0000001") {
  Intent i;
  i.quantity = quantity;
  i.corr_id = std::move(corr_id);
  return i;
}
Intent sell(double quantity, std::string corr_id = "corr_0000001") {
  Intent i = buy(quantity, std::move(corr_id));
  i.side = TH_SIDE_SELL;
  return i;
}
Intent limit(Intent i, double price, int32_t tif = TH_TIF_GTC) {
  i.type = TH_ORDER_LIMIT, i.limit = price, i.tif = tif;
  return i;
}
Intent stop(Intent i, double stop_price, int32_t tif = TH_TIF_GTC) {
  i.type = TH_ORDER_STOP, i.stop = stop_price, i.tif = tif;
  return i;
}

class Sim {
public:
  explicit Sim(const std::string &params = "{}") : h(EXEC_SIM_SO, params) {}

  void price(double p, int64_t ts = t0, const std::string &instrument = "AAPL") {
    std::string corr = "signal_0001";
    th_signal s = th::test::make_signal(corr, instrument, TH_SIGNAL_BUY, 1, p, ts);
    ASSERT_EQ(h.d->on_signal(h.inst, &s), TH_OK) << h.error();
  }
  void send(const Intent &i) {
    th_order_intent v = i.view();
    ASSERT_EQ(h.d->on_order_intent(h.inst, &v), TH_OK) << h.error();
  }
  const std::vector<Emitted> &fills() { return h.recorder.fills; }
  double metric(const std::string &key) {
    auto it = h.recorder.metrics.find(key);
    return it == h.recorder.metrics.end() ? 0 : it->second;
  }

  PluginHarness h;
};

std::string describe(const Emitted &f) {
  char buf[1024];
  std::snprintf(
      buf, sizeof buf, "%s|%s|%s|%s|%s|%s|%d|%d|%.17g|%.17g|%.17g|%lld|%s|%s|%.17g|%.17g|%.17g|%.17g",
      f.corr_id.c_str(), f.parent_corr_id.c_str(), f.fill_id.c_str(), f.order_id.c_str(), f.agent_id.c_str(),
      f.instrument.c_str(), f.side, f.fill_status, f.quantity, f.quantity_requested, f.avg_fill_price,
      static_cast<long long>(f.timestamp_ns), f.rejection_reason.c_str(), f.execution_venue.c_str(),
      f.commission, f.exchange_fee, f.regulatory_fee, f.slippage_bps);
  return buf;
}

// ---- descriptor and params -------------------------------------------------------------------

TEST(ExecSimDescriptor, NameVersionKindAndSchemaWithDefaults) {
  Sim sim;
  const th_plugin_descriptor *d = sim.h.d;
  EXPECT_EQ(th::test::s(d->name), "exec-sim");
  EXPECT_EQ(th::test::s(d->version), "1.0.0");
  EXPECT_EQ(d->kind, TH_KIND_EXECUTOR);
  EXPECT_NE(d->on_order_intent, nullptr);
  EXPECT_NE(d->on_signal, nullptr);
  auto schema = nlohmann::json::parse(th::test::s(d->params_schema));
  EXPECT_EQ(schema["$schema"], "http://json-schema.org/draft-07/schema#");
  EXPECT_EQ(schema["additionalProperties"], false);
  for (const char *name : {"seed", "slippage_bps", "min_latency_ms", "max_latency_ms", "partial_fill_prob",
                           "commission_per_share", "fee_bps", "regulatory_fee_bps"}) {
    ASSERT_TRUE(schema["properties"].contains(name)) << name;
    EXPECT_EQ(schema["properties"][name]["default"], 0) << name;
  }
  EXPECT_EQ(schema["properties"].size(), 8u);
}

TEST(ExecSimParams, BadParamsAreRefusedWithTheirName) {
  auto refused = [](const std::string &params, const std::string &needle) {
    try {
      PluginHarness h(EXEC_SIM_SO, params);
    } catch (const std::runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "accepted " << params;
  };
  refused(R"({"slipage_bps":1})", "unknown parameter 'slipage_bps'");
  refused(R"({"min_latency_ms":10,"max_latency_ms":5})", "max_latency_ms");
  refused(R"({"partial_fill_prob":1.5})", "partial_fill_prob");
  refused(R"({"fee_bps":-1})", "fee_bps");
  refused(R"({"seed":1.5})", "seed");
  refused(R"([1])", "JSON object");
  EXPECT_NO_THROW(PluginHarness(EXEC_SIM_SO, ""));
}

// ---- ids -------------------------------------------------------------------------------------

// Issue 13 finding 5: two agents' orders for one signal must not share fill ids (the audit sink
// keeps one row per id).
TEST(ExecSimIds, FillIdsDeriveFromTheHostsOrderIdUniquePerAgent) {
  Sim sim;
  sim.price(100);
  Intent a = buy(10, "corr_0000001"), b = buy(20, "corr_0000001");
  a.order_id = "corr_0000001.agent_a.1";
  b.agent_id = "agent_b";
  b.order_id = "corr_0000001.agent_b.1";
  Intent a2 = a;
  a2.order_id = "corr_0000001.agent_a.2";
  sim.send(a);
  sim.send(b);
  sim.send(a2);
  ASSERT_EQ(sim.fills().size(), 3u);
  EXPECT_EQ(sim.fills()[0].order_id, "corr_0000001.agent_a.1");
  EXPECT_EQ(sim.fills()[0].fill_id, "sim-corr_0000001.agent_a.1-1");
  EXPECT_EQ(sim.fills()[1].order_id, "corr_0000001.agent_b.1");
  EXPECT_EQ(sim.fills()[1].fill_id, "sim-corr_0000001.agent_b.1-1");
  EXPECT_EQ(sim.fills()[2].fill_id, "sim-corr_0000001.agent_a.2-1");
}

TEST(ExecSimIds, AnIntentFromAHostWithoutOrderIdsGetsOneUniquePerAgent) {
  Sim sim;
  sim.price(100);
  Intent a = buy(10), b = buy(10);
  b.agent_id = "agent_b";
  b.order_id = "ignored: the struct ends before order_id";
  th_order_intent va = a.view(), vb = b.view();
  va.struct_size = vb.struct_size = offsetof(th_order_intent, order_id); // a 1.0 host's intent
  ASSERT_EQ(sim.h.d->on_order_intent(sim.h.inst, &va), TH_OK);
  ASSERT_EQ(sim.h.d->on_order_intent(sim.h.inst, &vb), TH_OK);
  ASSERT_EQ(sim.fills().size(), 2u);
  EXPECT_EQ(sim.fills()[0].fill_id, "sim-corr_0000001.agent_a-1");
  EXPECT_EQ(sim.fills()[1].fill_id, "sim-corr_0000001.agent_b-1");
}

TEST(ExecSimIds, ProtectiveClosesOfTwoAgentsHaveTheirOwnIds) {
  Sim sim;
  sim.price(100);
  for (const char *agent : {"agent_a", "agent_b"}) {
    Intent i = buy(10, "entry_0000001");
    i.stop_loss = 0.02;
    i.agent_id = agent;
    i.order_id = std::string("entry_0000001.") + agent + ".1";
    sim.send(i);
  }
  sim.price(97, t0 + 1);
  ASSERT_EQ(sim.fills().size(), 4u);
  EXPECT_EQ(sim.fills()[2].order_id, "entry_0000001.agent_a.1-sl");
  EXPECT_EQ(sim.fills()[2].fill_id, "sim-entry_0000001.agent_a.1-sl-1");
  EXPECT_EQ(sim.fills()[3].fill_id, "sim-entry_0000001.agent_b.1-sl-1");
}

// ---- market orders ---------------------------------------------------------------------------

TEST(ExecSimMarket, FillsCompletelyAtTheLastSignalPrice) {
  Sim sim;
  sim.price(149.0);
  sim.price(150.25);
  Intent i = buy(100, "tradingview_abc123");
  sim.send(i);
  ASSERT_EQ(sim.fills().size(), 1u);
  const Emitted &f = sim.fills()[0];
  EXPECT_EQ(f.fill_status, TH_FILL_COMPLETE);
  EXPECT_EQ(f.corr_id, "tradingview_abc123");
  EXPECT_EQ(f.order_id, "tradingview_abc123.agent_a");
  EXPECT_EQ(f.fill_id, "sim-tradingview_abc123.agent_a-1");
  EXPECT_EQ(f.agent_id, "agent_a");
  EXPECT_EQ(f.instrument, "AAPL");
  EXPECT_EQ(f.side, TH_SIDE_BUY);
  EXPECT_EQ(f.quantity, 100);
  EXPECT_EQ(f.quantity_requested, 100);
  EXPECT_EQ(f.avg_fill_price, 150.25);
  EXPECT_EQ(f.slippage_bps, 0);
  EXPECT_EQ(f.timestamp_ns, t0);
  EXPECT_EQ(f.execution_venue, "simulator");
  EXPECT_EQ(f.rejection_reason, "");
  EXPECT_EQ(f.commission + f.exchange_fee + f.regulatory_fee, 0);
}

TEST(ExecSimMarket, WithoutASignalPriceUsesThePriceLimit) {
  Sim sim;
  Intent i = buy(10);
  i.limit = 99.5;
  sim.send(i);
  ASSERT_EQ(sim.fills().size(), 1u);
  EXPECT_EQ(sim.fills()[0].fill_status, TH_FILL_COMPLETE);
  EXPECT_EQ(sim.fills()[0].avg_fill_price, 99.5);
}

TEST(ExecSimMarket, ReferencePricesArePerInstrument) {
  Sim sim;
  sim.price(100, t0, "AAPL");
  sim.price(200, t0, "MSFT");
  Intent a = buy(1, "corr_aapl_1"), m = sell(1, "corr_msft_1");
  m.instrument = "MSFT";
  sim.send(a);
  sim.send(m);
  ASSERT_EQ(sim.fills().size(), 2u);
  EXPECT_EQ(sim.fills()[0].avg_fill_price, 100);
  EXPECT_EQ(sim.fills()[1].avg_fill_price, 200);
}

TEST(ExecSimMarket, SlippageIsAdverseAndWithinBoundsOverManyDraws) {
  Sim sim(R"({"seed":7,"slippage_bps":10})");
  sim.price(200);
  double low = 1e9, high = -1;
  for (int n = 0; n < 2000; ++n)
    sim.send(n % 2 ? sell(1) : buy(1));
  ASSERT_EQ(sim.fills().size(), 2000u);
  for (const Emitted &f : sim.fills()) {
    ASSERT_GE(f.slippage_bps, 0);
    ASSERT_LT(f.slippage_bps, 10);
    double expected =
        f.side == TH_SIDE_BUY ? 200 * (1 + f.slippage_bps / 10000) : 200 * (1 - f.slippage_bps / 10000);
    ASSERT_DOUBLE_EQ(f.avg_fill_price, expected);
    if (f.side == TH_SIDE_BUY) {
      ASSERT_GE(f.avg_fill_price, 200);
    } else {
      ASSERT_LE(f.avg_fill_price, 200);
    }
    low = std::min(low, f.slippage_bps), high = std::max(high, f.slippage_bps);
  }
  // Uniform over [0, 10): 2000 draws cover the range.
  EXPECT_LT(low, 0.1);
  EXPECT_GT(high, 9.9);
  EXPECT_EQ(sim.metric("exec_sim_slippage_bps{instrument=AAPL}"), 2000);
}

TEST(ExecSimMarket, IntentMaxSlippageCapsTheDraw) {
  Sim sim(R"({"seed":3,"slippage_bps":50})");
  sim.price(100);
  for (int n = 0; n < 200; ++n) {
    Intent i = buy(1);
    i.max_slippage_bps = 2;
    sim.send(i);
  }
  for (const Emitted &f : sim.fills())
    ASSERT_LT(f.slippage_bps, 2);
}

TEST(ExecSimMarket, LatencyShiftsTheFillTimestampOnly) {
  Sim sim(R"({"seed":11,"min_latency_ms":100,"max_latency_ms":2000})");
  sim.price(100);
  int64_t low = INT64_MAX, high = 0;
  for (int n = 0; n < 500; ++n)
    sim.send(buy(1));
  for (const Emitted &f : sim.fills()) {
    int64_t latency = f.timestamp_ns - t0;
    ASSERT_GE(latency, 100 * ms);
    ASSERT_LE(latency, 2000 * ms);
    ASSERT_EQ(f.avg_fill_price, 100); // the price is the one at arrival
    low = std::min(low, latency), high = std::max(high, latency);
  }
  EXPECT_LT(low, 150 * ms);
  EXPECT_GT(high, 1950 * ms);
}

TEST(ExecSimMarket, IntentWithoutTimestampUsesTheHostClock) {
  Sim sim(R"({"min_latency_ms":5,"max_latency_ms":5})");
  sim.h.recorder.now = t0 + 42;
  sim.price(100);
  Intent i = buy(1);
  i.timestamp_ns = 0;
  sim.send(i);
  ASSERT_EQ(sim.fills().size(), 1u);
  EXPECT_EQ(sim.fills()[0].timestamp_ns, t0 + 42 + 5 * ms);
}

// ---- limit orders ----------------------------------------------------------------------------

TEST(ExecSimLimit, MarketableLimitFillsAtTheReferencePrice) {
  Sim sim(R"({"slippage_bps":25})");
  sim.price(100);
  sim.send(limit(buy(10), 101));
  sim.send(limit(sell(10, "corr_0000002"), 99));
  ASSERT_EQ(sim.fills().size(), 2u);
  EXPECT_EQ(sim.fills()[0].avg_fill_price, 100); // price improvement, no slippage on limits
  EXPECT_EQ(sim.fills()[1].avg_fill_price, 100);
  EXPECT_EQ(sim.fills()[0].slippage_bps, 0);
}

TEST(ExecSimLimit, WithoutASignalPriceFillsAtItsLimit) {
  Sim sim;
  sim.send(limit(buy(10), 101.5));
  ASSERT_EQ(sim.fills().size(), 1u);
  EXPECT_EQ(sim.fills()[0].avg_fill_price, 101.5);
}

TEST(ExecSimLimit, GtcRestsUntilAPriceCrosses) {
  Sim sim;
  sim.price(100);
  sim.send(limit(buy(10), 99));
  sim.send(limit(sell(5, "corr_0000002"), 103));
  EXPECT_TRUE(sim.fills().empty());
  sim.price(99.5, t0 + 1000);
  EXPECT_TRUE(sim.fills().empty());
  sim.price(98.7, t0 + 2000);
  ASSERT_EQ(sim.fills().size(), 1u);
  EXPECT_EQ(sim.fills()[0].corr_id, "corr_0000001");
  EXPECT_EQ(sim.fills()[0].avg_fill_price, 98.7);
  EXPECT_EQ(sim.fills()[0].timestamp_ns, t0 + 2000); // the crossing signal's time
  sim.price(104, t0 + 3000);
  ASSERT_EQ(sim.fills().size(), 2u);
  EXPECT_EQ(sim.fills()[1].side, TH_SIDE_SELL);
  EXPECT_EQ(sim.fills()[1].avg_fill_price, 104);
  sim.price(90, t0 + 4000); // both done: nothing more
  EXPECT_EQ(sim.fills().size(), 2u);
}

TEST(ExecSimLimit, IocAndFokThatCannotFillAreCancelled) {
  Sim sim;
  sim.price(100);
  sim.send(limit(buy(10), 99, TH_TIF_IOC));
  sim.send(limit(buy(10, "corr_0000002"), 99, TH_TIF_FOK));
  ASSERT_EQ(sim.fills().size(), 2u);
  for (const Emitted &f : sim.fills()) {
    EXPECT_EQ(f.fill_status, TH_FILL_CANCELLED);
    EXPECT_EQ(f.quantity, 0);
    EXPECT_EQ(f.quantity_requested, 10);
    EXPECT_EQ(f.rejection_reason.rfind("EXEC-101: ", 0), 0u) << f.rejection_reason;
  }
  sim.price(90); // nothing rests
  EXPECT_EQ(sim.fills().size(), 2u);
  EXPECT_EQ(sim.metric("exec_sim_fills_generated_total{fill_type=cancelled,instrument=AAPL}"), 2);
}

TEST(ExecSimLimit, DayOrdersExpireWhenTheUtcDayChangesGtcDoNot) {
  Sim sim;
  sim.price(100);
  sim.send(limit(buy(10, "corr_day_0001"), 90, TH_TIF_DAY));
  sim.send(limit(buy(10, "corr_unset_001"), 90, 0)); // unset = DAY
  sim.send(limit(buy(10, "corr_gtc_0001"), 90, TH_TIF_GTC));
  sim.h.recorder.now = t0 + 13 * 3600 * 1'000'000'000LL; // 23:30 the same day
  sim.price(95, sim.h.recorder.now);
  EXPECT_TRUE(sim.fills().empty());
  sim.h.recorder.now = t0 + 14 * 3600 * 1'000'000'000LL; // 00:30 the next day
  sim.price(95, sim.h.recorder.now);
  ASSERT_EQ(sim.fills().size(), 2u);
  for (const Emitted &f : sim.fills()) {
    EXPECT_EQ(f.fill_status, TH_FILL_CANCELLED);
    EXPECT_EQ(f.timestamp_ns, sim.h.recorder.now);
    EXPECT_EQ(f.rejection_reason.rfind("EXEC-103: ", 0), 0u);
  }
  EXPECT_EQ(sim.fills()[0].corr_id, "corr_day_0001");
  EXPECT_EQ(sim.fills()[1].corr_id, "corr_unset_001");
  sim.price(89, sim.h.recorder.now + one_day);
  ASSERT_EQ(sim.fills().size(), 3u);
  EXPECT_EQ(sim.fills()[2].corr_id, "corr_gtc_0001");
  EXPECT_EQ(sim.fills()[2].fill_status, TH_FILL_COMPLETE);
}

TEST(ExecSimLimit, AnIntentOnTheNextDayAlsoExpiresOldDayOrdersFirst) {
  Sim sim;
  sim.price(100);
  sim.send(limit(buy(10, "corr_day_0001"), 90, TH_TIF_DAY));
  sim.h.recorder.now = t0 + one_day;
  sim.send(buy(1, "corr_next_day1"));
  ASSERT_EQ(sim.fills().size(), 2u);
  EXPECT_EQ(sim.fills()[0].corr_id, "corr_day_0001");
  EXPECT_EQ(sim.fills()[0].fill_status, TH_FILL_CANCELLED);
  EXPECT_EQ(sim.fills()[1].corr_id, "corr_next_day1");
  EXPECT_EQ(sim.fills()[1].fill_status, TH_FILL_COMPLETE);
}

// ---- stop orders -----------------------------------------------------------------------------

TEST(ExecSimStop, BuyStopTriggersWhenThePriceReachesTheStopAndFillsAtMarket) {
  Sim sim;
  sim.price(100);
  sim.send(stop(buy(10), 105));
  sim.price(104.9);
  EXPECT_TRUE(sim.fills().empty());
  sim.price(105.5);
  ASSERT_EQ(sim.fills().size(), 1u);
  EXPECT_EQ(sim.fills()[0].avg_fill_price, 105.5);
  EXPECT_EQ(sim.fills()[0].fill_status, TH_FILL_COMPLETE);
}

TEST(ExecSimStop, SellStopTriggersAtOrBelowTheStop) {
  Sim sim;
  sim.price(100);
  sim.send(stop(sell(10), 95));
  sim.price(95.01);
  EXPECT_TRUE(sim.fills().empty());
  sim.price(95);
  ASSERT_EQ(sim.fills().size(), 1u);
  EXPECT_EQ(sim.fills()[0].avg_fill_price, 95);
}

TEST(ExecSimStop, AlreadyCrossedStopTriggersOnArrivalAndStopsNeedAnObservedPrice) {
  Sim sim;
  sim.price(100);
  sim.send(stop(buy(10), 99));
  ASSERT_EQ(sim.fills().size(), 1u);
  EXPECT_EQ(sim.fills()[0].avg_fill_price, 100);
  // No signal for MSFT yet: the stop cannot trigger, an IOC stop is cancelled.
  Intent i = stop(buy(10, "corr_0000002"), 1, TH_TIF_IOC);
  i.instrument = "MSFT";
  sim.send(i);
  ASSERT_EQ(sim.fills().size(), 2u);
  EXPECT_EQ(sim.fills()[1].fill_status, TH_FILL_CANCELLED);
  EXPECT_EQ(sim.fills()[1].rejection_reason.rfind("EXEC-101: ", 0), 0u);
}

TEST(ExecSimStop, StopLimitTriggersThenWaitsForItsLimit) {
  Sim sim;
  sim.price(100);
  Intent i = stop(buy(10), 105);
  i.type = TH_ORDER_STOP_LIMIT;
  i.limit = 106;
  sim.send(i);
  sim.price(107); // triggered, but 107 > limit 106
  EXPECT_TRUE(sim.fills().empty());
  sim.price(104); // still triggered: a limit buy at 106, marketable at 104
  ASSERT_EQ(sim.fills().size(), 1u);
  EXPECT_EQ(sim.fills()[0].avg_fill_price, 104);
}

// ---- partial fills ---------------------------------------------------------------------------

TEST(ExecSimPartial, IocPartialFillThenCancelledRemainder) {
  Sim sim(R"({"seed":5,"partial_fill_prob":1})");
  sim.price(100);
  Intent i = buy(100);
  i.tif = TH_TIF_IOC;
  sim.send(i);
  ASSERT_EQ(sim.fills().size(), 2u);
  const Emitted &part = sim.fills()[0], &rest = sim.fills()[1];
  EXPECT_EQ(part.fill_status, TH_FILL_PARTIAL);
  EXPECT_GE(part.quantity, 30);
  EXPECT_LT(part.quantity, 95);
  EXPECT_NEAR(part.quantity * 1000, std::round(part.quantity * 1000), 1e-6); // multiple of 0.001
  EXPECT_EQ(part.quantity_requested, 100);
  EXPECT_EQ(part.fill_id, "sim-corr_0000001.agent_a-1");
  EXPECT_EQ(rest.fill_status, TH_FILL_CANCELLED);
  EXPECT_EQ(rest.quantity, 0);
  EXPECT_EQ(rest.fill_id, "sim-corr_0000001.agent_a-2");
  EXPECT_EQ(rest.timestamp_ns, part.timestamp_ns);
  char expected[128];
  std::snprintf(expected, sizeof expected, "EXEC-102: IOC remainder %.10g cancelled after a partial fill",
                100 - part.quantity);
  EXPECT_EQ(rest.rejection_reason, expected);
  EXPECT_EQ(sim.metric("exec_sim_fills_generated_total{fill_type=partial,instrument=AAPL}"), 1);
}

TEST(ExecSimPartial, GtcRemainderKeepsWorkingOnLaterPrices) {
  Sim sim(R"({"seed":9,"partial_fill_prob":1})");
  sim.price(100);
  Intent i = buy(100);
  i.tif = TH_TIF_GTC;
  sim.send(i);
  for (int n = 1; n < 100 && sim.fills().back().fill_status != TH_FILL_COMPLETE; ++n)
    sim.price(100 + n, t0 + n);
  const auto &fills = sim.fills();
  ASSERT_GE(fills.size(), 2u);
  ASSERT_EQ(fills.back().fill_status, TH_FILL_COMPLETE);
  double total = 0;
  for (size_t n = 0; n < fills.size(); ++n) {
    if (n + 1 < fills.size()) {
      EXPECT_EQ(fills[n].fill_status, TH_FILL_PARTIAL);
    }
    EXPECT_EQ(fills[n].fill_id, "sim-corr_0000001.agent_a-" + std::to_string(n + 1));
    EXPECT_EQ(fills[n].avg_fill_price, 100 + static_cast<double>(n)); // each part at its own price
    total += fills[n].quantity;
  }
  EXPECT_NEAR(total, 100, 1e-9);
}

TEST(ExecSimPartial, FokNeverFillsPartially) {
  Sim sim(R"({"seed":5,"partial_fill_prob":1})");
  sim.price(100);
  Intent i = buy(100);
  i.tif = TH_TIF_FOK;
  sim.send(i);
  ASSERT_EQ(sim.fills().size(), 1u);
  EXPECT_EQ(sim.fills()[0].fill_status, TH_FILL_COMPLETE);
  EXPECT_EQ(sim.fills()[0].quantity, 100);
}

TEST(ExecSimPartial, ProbabilityZeroNeverPartial) {
  Sim sim(R"({"seed":5,"partial_fill_prob":0})");
  sim.price(100);
  for (int n = 0; n < 100; ++n)
    sim.send(buy(100));
  for (const Emitted &f : sim.fills())
    ASSERT_EQ(f.fill_status, TH_FILL_COMPLETE);
}

// ---- fees ------------------------------------------------------------------------------------

TEST(ExecSimFees, CommissionExchangeAndRegulatoryFees) {
  Sim sim(R"({"commission_per_share":0.005,"fee_bps":1,"regulatory_fee_bps":0.5})");
  sim.price(150);
  sim.send(buy(100));
  ASSERT_EQ(sim.fills().size(), 1u);
  EXPECT_DOUBLE_EQ(sim.fills()[0].commission, 0.5);      // 100 * 0.005
  EXPECT_DOUBLE_EQ(sim.fills()[0].exchange_fee, 1.5);    // 15000 * 1 / 10000
  EXPECT_DOUBLE_EQ(sim.fills()[0].regulatory_fee, 0.75); // 15000 * 0.5 / 10000
  Intent bad = buy(0);
  sim.send(bad);
  EXPECT_EQ(sim.fills()[1].commission + sim.fills()[1].exchange_fee + sim.fills()[1].regulatory_fee, 0);
}

// ---- protective stops ------------------------------------------------------------------------

Intent protected_buy(double quantity, double stop_loss, std::optional<double> take_profit = {},
                     std::string corr_id = "entry_0000001") {
  Intent i = buy(quantity, std::move(corr_id));
  i.stop_loss = stop_loss;
  i.take_profit = take_profit;
  return i;
}

TEST(ExecSimProtective, StopLossClosesTheEntryAndCancelsTheTarget) {
  Sim sim(R"({"commission_per_share":0.01})");
  sim.price(100);
  sim.send(protected_buy(100, 0.02, 0.05)); // stop 98, target 105
  sim.price(98.01, t0 + 1);
  ASSERT_EQ(sim.fills().size(), 1u);
  sim.price(97.9, t0 + 2);
  ASSERT_EQ(sim.fills().size(), 2u);
  const Emitted &close = sim.fills()[1];
  EXPECT_EQ(close.fill_status, TH_FILL_COMPLETE);
  EXPECT_EQ(close.side, TH_SIDE_SELL);
  EXPECT_EQ(close.quantity, 100);
  EXPECT_EQ(close.avg_fill_price, 97.9);
  EXPECT_EQ(close.corr_id, "entry_0000001-sl");
  EXPECT_EQ(close.parent_corr_id, "entry_0000001");
  EXPECT_EQ(close.order_id, "entry_0000001.agent_a-sl");
  EXPECT_EQ(close.fill_id, "sim-entry_0000001.agent_a-sl-1");
  EXPECT_EQ(close.agent_id, "agent_a");
  EXPECT_EQ(close.timestamp_ns, t0 + 2);
  EXPECT_DOUBLE_EQ(close.commission, 1.0);
  sim.price(106, t0 + 3); // the target was cancelled with the stop
  sim.price(90, t0 + 4);
  EXPECT_EQ(sim.fills().size(), 2u);
}

TEST(ExecSimProtective, TakeProfitClosesAtThePriceAndCancelsTheStop) {
  Sim sim(R"({"slippage_bps":10,"seed":1})");
  sim.price(100);
  Intent entry = protected_buy(50, 0.02, 0.05);
  entry.max_slippage_bps = 0; // entry at exactly 100
  sim.send(entry);
  ASSERT_EQ(sim.fills()[0].avg_fill_price, 100);
  sim.price(104.99);
  EXPECT_EQ(sim.fills().size(), 1u);
  sim.price(105.2);
  ASSERT_EQ(sim.fills().size(), 2u);
  EXPECT_EQ(sim.fills()[1].corr_id, "entry_0000001-tp");
  EXPECT_EQ(sim.fills()[1].avg_fill_price, 105.2);
  EXPECT_EQ(sim.fills()[1].slippage_bps, 0);
  sim.price(50);
  EXPECT_EQ(sim.fills().size(), 2u);
}

TEST(ExecSimProtective, ShortEntryGetsABuyStopAbove) {
  Sim sim;
  sim.price(100);
  Intent entry = sell(50, "short_0000001");
  entry.stop_loss = 0.02; // buy stop at 102
  sim.send(entry);
  sim.price(101.9);
  EXPECT_EQ(sim.fills().size(), 1u);
  sim.price(102.5);
  ASSERT_EQ(sim.fills().size(), 2u);
  EXPECT_EQ(sim.fills()[1].side, TH_SIDE_BUY);
  EXPECT_EQ(sim.fills()[1].quantity, 50);
  EXPECT_EQ(sim.fills()[1].parent_corr_id, "short_0000001");
}

TEST(ExecSimProtective, OppositeExecutionsOfTheAgentReduceTheProtection) {
  Sim sim;
  sim.price(100);
  sim.send(protected_buy(100, 0.02));
  sim.send(sell(40, "reduce_000001"));
  Intent other = sell(30, "other_agent_01");
  other.agent_id = "agent_b"; // another agent's sell does not touch agent_a's stop
  sim.send(other);
  sim.price(97);
  ASSERT_EQ(sim.fills().size(), 4u);
  EXPECT_EQ(sim.fills()[3].corr_id, "entry_0000001-sl");
  EXPECT_EQ(sim.fills()[3].quantity, 60);
  // A full exit removes the protection.
  sim.send(protected_buy(10, 0.02, {}, "entry_0000002"));
  sim.send(sell(10, "exit_00000002"));
  sim.price(90);
  EXPECT_EQ(sim.fills().size(), 6u);
}

TEST(ExecSimProtective, EntryFilledInPartsProtectsTheFilledQuantity) {
  Sim sim(R"({"seed":2,"partial_fill_prob":1})");
  sim.price(100);
  Intent entry = protected_buy(100, 0.1);
  entry.tif = TH_TIF_IOC;
  sim.send(entry);
  ASSERT_EQ(sim.fills().size(), 2u); // partial + cancelled remainder
  double filled = sim.fills()[0].quantity;
  sim.price(89);
  ASSERT_EQ(sim.fills().size(), 3u);
  EXPECT_EQ(sim.fills()[2].quantity, filled);
  EXPECT_EQ(sim.fills()[2].quantity_requested, filled);
}

TEST(ExecSimProtective, GtcEntryFilledOverSeveralPricesUsesTheAverageEntryPrice) {
  Sim sim(R"({"seed":4,"partial_fill_prob":1})");
  sim.price(100);
  Intent entry = protected_buy(100, 0.5);
  entry.tif = TH_TIF_GTC;
  sim.send(entry);
  for (int n = 1; n < 100 && sim.fills().back().fill_status != TH_FILL_COMPLETE; ++n)
    sim.price(100 + n);
  ASSERT_EQ(sim.fills().back().fill_status, TH_FILL_COMPLETE);
  double quantity = 0, notional = 0;
  for (const Emitted &f : sim.fills())
    quantity += f.quantity, notional += f.quantity * f.avg_fill_price;
  const size_t entry_fills = sim.fills().size();
  ASSERT_GT(entry_fills, 2u);
  const double stop_level = notional / quantity * (1 - 0.5);
  sim.price(stop_level + 0.01);
  EXPECT_EQ(sim.fills().size(), entry_fills);
  sim.price(stop_level);
  ASSERT_EQ(sim.fills().size(), entry_fills + 1);
  EXPECT_NEAR(sim.fills().back().quantity, 100, 1e-9);
  EXPECT_EQ(sim.fills().back().corr_id, "entry_0000001-sl");
}

TEST(ExecSimProtective, ClosingCorrIdOfALongEntryStaysValid) {
  Sim sim;
  sim.price(100);
  std::string corr(64, 'a');
  sim.send(protected_buy(1, 0.01, {}, corr));
  sim.price(98);
  ASSERT_EQ(sim.fills().size(), 2u);
  EXPECT_EQ(sim.fills()[1].corr_id, std::string(61, 'a') + "-sl");
  EXPECT_TRUE(std::regex_match(sim.fills()[1].corr_id, std::regex("^[a-zA-Z0-9_-]{8,64}$")));
  EXPECT_EQ(sim.fills()[1].parent_corr_id, corr);
}

// ---- invalid intents -------------------------------------------------------------------------

TEST(ExecSimInvalid, EachCodeRejectsWithAFillAndTheInvalidMetric) {
  struct Case {
    const char *code;
    Intent intent;
  };
  std::vector<Case> cases;
  auto add = [&](const char *code, auto change) {
    Intent i = buy(10, "bad_corr_" + std::string(code + 5));
    i.instrument = "MSFT"; // no signal price seen for it
    i.limit = 100;         // so market orders have a reference unless a case removes it
    change(i);
    cases.push_back({code, i});
  };
  add("EXEC-001", [](Intent &i) { i.quantity = 0.0009; });
  add("EXEC-001", [](Intent &i) { i.quantity = NAN; });
  add("EXEC-002", [](Intent &i) { i.side = 7; });
  add("EXEC-003", [](Intent &i) { i.type = 9; });
  add("EXEC-004", [](Intent &i) { i.tif = TH_TIF_GTD; });
  add("EXEC-004", [](Intent &i) { i.tif = 42; });
  add("EXEC-005", [](Intent &i) { i.type = TH_ORDER_LIMIT, i.limit.reset(); });
  add("EXEC-005", [](Intent &i) { i.type = TH_ORDER_STOP_LIMIT, i.stop = 100, i.limit.reset(); });
  add("EXEC-006", [](Intent &i) { i.type = TH_ORDER_STOP; });
  add("EXEC-007", [](Intent &i) { i.instrument.clear(); });
  add("EXEC-008", [](Intent &i) { i.limit.reset(); });
  add("EXEC-009", [](Intent &i) { i.corr_id = "short"; });
  add("EXEC-009", [](Intent &i) { i.corr_id = "has space 123"; });

  Sim sim;
  for (const Case &c : cases)
    sim.send(c.intent);
  ASSERT_EQ(sim.fills().size(), cases.size());
  for (size_t n = 0; n < cases.size(); ++n) {
    const Emitted &f = sim.fills()[n];
    EXPECT_EQ(f.fill_status, TH_FILL_REJECTED) << cases[n].code;
    EXPECT_EQ(f.rejection_reason.substr(0, 10), std::string(cases[n].code) + ": ") << f.rejection_reason;
    EXPECT_EQ(f.corr_id, cases[n].intent.corr_id);
    EXPECT_EQ(f.quantity, 0);
    EXPECT_EQ(f.avg_fill_price, 0);
    EXPECT_EQ(f.execution_venue, "simulator");
    EXPECT_EQ(f.agent_id, "agent_a");
  }
  EXPECT_EQ(sim.metric("exec_sim_orders_received_total{status=invalid}"), cases.size());
  EXPECT_EQ(sim.metric("exec_sim_orders_received_total{status=valid}"), 0);
  EXPECT_EQ(sim.metric("exec_sim_fills_generated_total{fill_type=rejected,instrument=MSFT}"),
            cases.size() - 1);
  EXPECT_EQ(sim.metric("exec_sim_fills_generated_total{fill_type=rejected,instrument=}"), 1);
  EXPECT_EQ(
      sim.fills()[10].rejection_reason,
      "EXEC-008: no reference price for MSFT: no signal price seen and no price_limit on the market order");
  // A signal price makes the same market order valid.
  sim.price(100, t0, "MSFT");
  Intent ok = buy(10, "good_0000001");
  ok.instrument = "MSFT";
  sim.send(ok);
  EXPECT_EQ(sim.fills().back().fill_status, TH_FILL_COMPLETE);
  EXPECT_EQ(sim.metric("exec_sim_orders_received_total{status=valid}"), 1);
}

// ---- metrics ---------------------------------------------------------------------------------

TEST(ExecSimMetrics, NamesAndLabels) {
  Sim sim(R"({"slippage_bps":1})");
  sim.price(100);
  Intent i = buy(1);
  i.extra_json = R"({"venue_hint":"x","metadata":{"a":1}})";
  sim.send(i);
  i.corr_id = "corr_0000002";
  sim.send(i);
  sim.send(limit(buy(1, "corr_0000003"), 50, TH_TIF_IOC));
  std::map<std::string, double> expected = {
      {"exec_sim_orders_received_total{status=valid}", 3},
      {"exec_sim_fills_generated_total{fill_type=complete,instrument=AAPL}", 2},
      {"exec_sim_fills_generated_total{fill_type=cancelled,instrument=AAPL}", 1},
      {"exec_sim_slippage_bps{instrument=AAPL}", 2},
      {"exec_sim_unknown_fields_total{field_name=venue_hint}", 2},
      {"exec_sim_unknown_fields_total{field_name=metadata}", 2},
  };
  EXPECT_EQ(sim.h.recorder.metrics, expected);
  // Each unknown field name is logged once.
  int logged = 0;
  for (const std::string &line : sim.h.recorder.logs)
    logged += line.find("venue_hint") != std::string::npos;
  EXPECT_EQ(logged, 1);
}

TEST(ExecSimMetrics, ExtraJsonThatIsNotAnObjectIsIgnoredWithAWarning) {
  Sim sim;
  sim.price(100);
  Intent i = buy(1);
  i.extra_json = "[1,2]";
  sim.send(i);
  EXPECT_EQ(sim.fills().back().fill_status, TH_FILL_COMPLETE);
  for (const auto &[key, value] : sim.h.recorder.metrics)
    EXPECT_EQ(key.find("unknown_fields"), std::string::npos);
  ASSERT_FALSE(sim.h.recorder.logs.empty());
}

// ---- determinism -----------------------------------------------------------------------------

std::vector<std::string> run_stream(const std::string &params) {
  Sim sim(params);
  double p = 100;
  for (int n = 0; n < 400; ++n) {
    p += (n % 7) - 3.1;
    sim.price(p, t0 + n * ms);
    Intent i = n % 3 ? buy(10 + n % 5, "corr_" + std::to_string(100000 + n))
                     : sell(12, "corr_" + std::to_string(100000 + n));
    i.timestamp_ns = t0 + n * ms;
    if (n % 4 == 1)
      i = limit(i, p - 1);
    if (n % 4 == 2)
      i.tif = TH_TIF_IOC;
    if (n % 5 == 0)
      i.stop_loss = 0.01, i.take_profit = 0.02;
    sim.send(i);
  }
  std::vector<std::string> out;
  for (const Emitted &f : sim.fills())
    out.push_back(describe(f));
  return out;
}

TEST(ExecSimDeterminism, SameSeedSameStreamGivesIdenticalFills) {
  const std::string params = R"({"seed":1234,"slippage_bps":8,"min_latency_ms":100,"max_latency_ms":2000,)"
                             R"("partial_fill_prob":0.3,"commission_per_share":0.01,"fee_bps":0.5})";
  auto a = run_stream(params), b = run_stream(params);
  ASSERT_GT(a.size(), 400u);
  EXPECT_EQ(a, b);
  auto c = run_stream(R"({"seed":1235,"slippage_bps":8,"min_latency_ms":100,"max_latency_ms":2000,)"
                      R"("partial_fill_prob":0.3,"commission_per_share":0.01,"fee_bps":0.5})");
  EXPECT_NE(a, c);
}

TEST(ExecSimDeterminism, TwoInstancesInOneProcessAreIndependent) {
  const std::string params = R"({"seed":99,"slippage_bps":5,"partial_fill_prob":0.5})";
  Sim a(params), b(params);
  a.price(100);
  b.price(100);
  for (int n = 0; n < 50; ++n) {
    a.send(buy(10, "corr_" + std::to_string(100000 + n)));
    b.send(buy(10, "corr_" + std::to_string(100000 + n)));
  }
  ASSERT_EQ(a.fills().size(), b.fills().size());
  for (size_t n = 0; n < a.fills().size(); ++n)
    EXPECT_EQ(describe(a.fills()[n]), describe(b.fills()[n]));
}

} // namespace

// ---- shutdown (issue 13 finding 9): nothing rests silently across a restart ----------------------

TEST(ExecSimShutdown, StopCancelsEveryRestingOrderAndProtectionWithAnAuditEventEach) {
  Sim sim;
  sim.price(100);
  sim.send(limit(buy(10, "corr_gtc_limit"), 95)); // rests: 100 > 95
  sim.send(stop(sell(5, "corr_gtc_stop"), 90));   // rests: not triggered
  Intent entry = buy(20, "corr_protected");       // fills, leaves a protective stop
  entry.stop_loss = 0.02;
  sim.send(entry);
  size_t fills_before = sim.fills().size();
  ASSERT_EQ(fills_before, 1u);
  sim.h.recorder.audits.clear();

  ASSERT_EQ(sim.h.d->stop(sim.h.inst), TH_OK) << sim.h.error();
  EXPECT_EQ(sim.fills().size(), fills_before) << "stop emits no fills (the host's stages are stopping)";
  std::map<std::string, nlohmann::json> cancelled; // order_id -> data
  for (auto &[type, data] : sim.h.recorder.audits) {
    ASSERT_EQ(type, "order_cancelled");
    auto j = nlohmann::json::parse(data);
    cancelled[j["order_id"]] = j;
  }
  ASSERT_EQ(cancelled.size(), 3u);
  auto &gtc = cancelled["corr_gtc_limit.agent_a"];
  EXPECT_EQ(gtc["code"], "EXEC-105");
  EXPECT_EQ(gtc["kind"], "order");
  EXPECT_EQ(gtc["time_in_force"], "GTC");
  EXPECT_EQ(gtc["order_type"], "limit");
  EXPECT_EQ(gtc["remaining"], 10);
  EXPECT_EQ(gtc["agent_id"], "agent_a");
  EXPECT_EQ(cancelled["corr_gtc_stop.agent_a"]["order_type"], "stop");
  auto &protection = cancelled["corr_protected.agent_a-protection"];
  EXPECT_EQ(protection["kind"], "protection");
  EXPECT_EQ(protection["protects_order_id"], "corr_protected.agent_a");
  EXPECT_EQ(protection["quantity"], 20);
  EXPECT_EQ(protection["side"], "sell");
  EXPECT_NEAR(protection["stop_level"].get<double>(), 98, 0.1);
  EXPECT_NE(protection["reason"].get<std::string>().find("EXEC-105: cancelled at shutdown"),
            std::string::npos);

  // Nothing works any more: a price that would have filled the limit and hit the stop does nothing.
  sim.h.recorder.audits.clear();
  sim.price(80);
  EXPECT_EQ(sim.fills().size(), fills_before);
  ASSERT_EQ(sim.h.d->stop(sim.h.inst), TH_OK);
  EXPECT_TRUE(sim.h.recorder.audits.empty()) << "a second stop cancels nothing again";
}

// ABI 1.1 cancel_all (the host's trading state became halted): each working order gets its
// cancelled fill and an order_cancelled audit event, each protection its audit event (EXEC-106).
TEST(ExecSimShutdown, CancelAllCancelsEveryWorkingOrderWithAFillAndAnAuditEventEach) {
  Sim sim;
  ASSERT_NE(sim.h.d->cancel_all, nullptr);
  sim.price(100);
  sim.send(limit(buy(10, "corr_gtc_limit"), 95));
  Intent entry = buy(20, "corr_protected");
  entry.stop_loss = 0.02;
  sim.send(entry);
  ASSERT_EQ(sim.fills().size(), 1u);
  sim.h.recorder.audits.clear();

  ASSERT_EQ(sim.h.d->cancel_all(sim.h.inst), TH_OK) << sim.h.error();
  ASSERT_EQ(sim.fills().size(), 2u);
  const Emitted &cancel = sim.fills().back();
  EXPECT_EQ(cancel.fill_status, TH_FILL_CANCELLED);
  EXPECT_EQ(cancel.corr_id, "corr_gtc_limit");
  EXPECT_EQ(cancel.quantity, 0);
  EXPECT_EQ(cancel.rejection_reason.rfind("EXEC-106: cancelled by the host: trading halted", 0), 0u)
      << cancel.rejection_reason;
  ASSERT_EQ(sim.h.recorder.audits.size(), 2u);
  for (auto &[type, data] : sim.h.recorder.audits) {
    EXPECT_EQ(type, "order_cancelled");
    EXPECT_EQ(nlohmann::json::parse(data)["code"], "EXEC-106") << data;
  }
  sim.price(80); // the limit would fill, the stop would trigger: both are gone
  EXPECT_EQ(sim.fills().size(), 2u);
}
