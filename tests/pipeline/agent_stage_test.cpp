// The agent stage (pipeline/agent_stage) without plugins: what happens to an intent a strategy
// emits through the host service, on the embedded bus. Order ids and decision ids by agent and
// number (from 1001 outside on_signal), fields the host fills in, an invalid intent refused and
// not published, the trading state before the risk chain (halted rejects everything, reducing
// only what does not move a position towards zero), the same decision id for a rejection as for
// the approval it replaces, and the stage's counters and metrics. Deliveries are awaited with
// the bus's wait_idle(), never by sleeping.
#include "bus/embedded_bus.hpp"
#include "events/c_view.hpp"
#include "pipeline/agent_stage.hpp"
#include "pipeline/risk_chain.hpp"
#include "published_messages.hpp"

#include "../events/sample_payloads.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <sstream>
#include <vector>

namespace th {
namespace {

class AgentStageIntents : public ::testing::Test {
protected:
  void SetUp() override {
    bus->start();
    clock.set_replay_time(1736937000000000000);
  }
  void TearDown() override { bus->stop(); }

  std::vector<Message> decisions() { return published.all(); }

  // A complete buy fill of this agent's that the portfolio applies.
  void bought(const std::string &fill_id, double quantity, double price) {
    Fill f = testing::sample_fill();
    f.fill_id = fill_id;
    f.agent_id = "momentum_v1";
    f.instrument = "AAPL";
    f.fill_status = TH_FILL_COMPLETE;
    f.quantity_filled = quantity;
    f.avg_fill_price = price;
    ASSERT_TRUE(portfolio.apply(f));
  }

  static OrderIntent intent(const std::string &corr_id, int32_t side = TH_SIDE_BUY, double quantity = 10) {
    OrderIntent o;
    o.corr_id = corr_id;
    o.instrument = "AAPL";
    o.side = side;
    o.order_type = TH_ORDER_MARKET;
    o.quantity = quantity;
    return o;
  }

  th_status emit(const InstanceContext &agent, const OrderIntent &o) {
    return stage.emit_order_intent(agent, view_of(o));
  }

  double sample(const std::string &prefix) {
    std::istringstream in(metrics.serialize());
    for (std::string line; std::getline(in, line);)
      if (line.rfind(prefix, 0) == 0)
        return std::stod(line.substr(line.rfind(' ') + 1));
    return -1;
  }

  const InstanceContext momentum{"momentum_v1", "momentum", "1.0.0", TH_KIND_STRATEGY};
  const InstanceContext breakout{"breakout_v1", "breakout", "1.0.0", TH_KIND_STRATEGY};
  std::unique_ptr<Bus> bus = make_embedded_bus();
  Metrics metrics;
  Portfolio portfolio;
  Clock clock;
  TradingState trading; // not opened: set() only switches
  RiskChain risk;       // empty: approves
  AgentStage stage{StageContext{*bus, metrics, portfolio, clock, &trading}, risk};
  testing::PublishedMessages published{*bus, {Subject::decisions_order_intent, Subject::decisions_rejected}};
};

TEST(AgentStageIds, OrderAndDecisionIdsNameTheSignalTheAgentAndTheNumber) {
  OrderIntent o;
  o.corr_id = "sig_1";
  o.agent_id = "momentum_v1";
  assign_order_id(o, 3);
  EXPECT_EQ(o.order_id, "sig_1.momentum_v1.3");
  std::string id = "previous content";
  decision_msg_id(o, 3, id);
  EXPECT_EQ(id, "sig_1:decision:momentum_v1:3");
}

TEST_F(AgentStageIntents, AnApprovedIntentIsPublishedWithTheHostsFields) {
  ASSERT_EQ(emit(momentum, intent("sig_1")), TH_OK);
  auto out = decisions();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].subject, Subject::decisions_order_intent);
  EXPECT_EQ(out[0].msg_id, "sig_1:decision:momentum_v1:1001"); // emitted outside on_signal()
  const auto &published_intent = std::get<OrderIntent>(out[0].payload);
  EXPECT_EQ(published_intent.agent_id, "momentum_v1"); // from the deployment, not the plugin
  EXPECT_EQ(published_intent.strategy, "momentum");    // the plugin name when left empty
  EXPECT_EQ(published_intent.order_id, "sig_1.momentum_v1.1001");
  EXPECT_EQ(published_intent.timestamp_ns, 1736937000000000000); // the host's clock when unset
  EXPECT_EQ(stage.intents(), 1u);
  EXPECT_EQ(stage.rejections(), 0u);
  EXPECT_EQ(sample("agent_decisions_made_total{strategy=\"momentum_v1\"}"), 1);
}

TEST_F(AgentStageIntents, NumbersCountPerSignalAndAgent) {
  ASSERT_EQ(emit(momentum, intent("sig_1")), TH_OK);
  ASSERT_EQ(emit(momentum, intent("sig_1")), TH_OK);
  ASSERT_EQ(emit(breakout, intent("sig_1")), TH_OK);
  ASSERT_EQ(emit(momentum, intent("sig_2")), TH_OK);
  std::vector<std::string> ids;
  for (const auto &m : decisions())
    ids.push_back(m.msg_id);
  EXPECT_EQ(ids,
            (std::vector<std::string>{"sig_1:decision:momentum_v1:1001", "sig_1:decision:momentum_v1:1002",
                                      "sig_1:decision:breakout_v1:1001", "sig_2:decision:momentum_v1:1001"}));
}

TEST_F(AgentStageIntents, AnIntentWithoutItsRequiredFieldsIsRefusedAndNotPublished) {
  OrderIntent no_instrument = intent("sig_1");
  no_instrument.instrument.clear();
  EXPECT_EQ(emit(momentum, no_instrument), TH_INVALID_ARGUMENT);
  OrderIntent no_side = intent("sig_1");
  no_side.side = 0;
  EXPECT_EQ(emit(momentum, no_side), TH_INVALID_ARGUMENT);
  EXPECT_EQ(emit(momentum, intent("")), TH_INVALID_ARGUMENT); // no corr_id, and no signal to take it from
  EXPECT_TRUE(decisions().empty());
  EXPECT_EQ(stage.intents(), 0u);
  EXPECT_EQ(stage.rejections(), 0u);
}

TEST_F(AgentStageIntents, HaltedTradingRejectsWithTheIdTheApprovalWouldHaveHad) {
  ASSERT_TRUE(trading.set(TH_TRADING_HALTED, "test", "halt").ok);
  ASSERT_EQ(emit(momentum, intent("sig_1")), TH_OK); // a rejection is a decision, not an error
  auto out = decisions();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].subject, Subject::decisions_rejected);
  EXPECT_EQ(out[0].msg_id, "sig_1:decision:momentum_v1:1001");
  const auto &rejection = std::get<Rejection>(out[0].payload);
  EXPECT_EQ(rejection.rule, "trading_halted");
  EXPECT_EQ(rejection.intent.order_id, "sig_1.momentum_v1.1001");
  EXPECT_EQ(stage.rejections(), 1u);
  EXPECT_EQ(stage.intents(), 0u);
  EXPECT_EQ(sample("agent_risk_checks_failed_total{reason=\"trading_halted\"}"), 1);
}

TEST_F(AgentStageIntents, ReducingTradingLetsOnlyPositionReducingIntentsThrough) {
  bought("fill_0", 10, 100);
  ASSERT_TRUE(trading.set(TH_TRADING_REDUCING, "test", "reduce").ok);

  ASSERT_EQ(emit(momentum, intent("sig_1", TH_SIDE_BUY, 1)), TH_OK);   // grows the long
  ASSERT_EQ(emit(momentum, intent("sig_2", TH_SIDE_SELL, 4)), TH_OK);  // reduces it
  ASSERT_EQ(emit(momentum, intent("sig_3", TH_SIDE_SELL, 11)), TH_OK); // would cross zero
  ASSERT_EQ(emit(breakout, intent("sig_4", TH_SIDE_SELL, 1)), TH_OK);  // this agent holds nothing
  std::vector<std::string> outcome;
  for (const auto &m : decisions())
    outcome.push_back(m.subject == Subject::decisions_order_intent
                          ? "approved " + corr_id_of(m)
                          : std::get<Rejection>(m.payload).rule + " " + corr_id_of(m));
  EXPECT_EQ(outcome, (std::vector<std::string>{"trading_reducing sig_1", "approved sig_2",
                                               "trading_reducing sig_3", "trading_reducing sig_4"}));
}

TEST_F(AgentStageIntents, ASignalWithoutAgentsDecidesNothingButMarksItsPrice) {
  Signal s;
  s.corr_id = "sig_9";
  s.instrument = "AAPL";
  s.action = TH_SIGNAL_BUY;
  s.price = 123.5;
  stage.on_signal(s);
  EXPECT_TRUE(decisions().empty());
  EXPECT_EQ(sample("agent_signals_received_total{signal_type=\"buy\"}"), 1);
  bought("fill_9", 1, 120);
  EXPECT_DOUBLE_EQ(portfolio.position("momentum_v1", "AAPL").last_price, 123.5); // the signal's mark
}

} // namespace
} // namespace th
