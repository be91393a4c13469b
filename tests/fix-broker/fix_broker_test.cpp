// fix-broker through the real C ABI (the built fix-broker.so in the plugin harness) against the
// real tradehost-fix-venue over loopback: round trips, partial fills, rejects, expiry, cancels,
// a dropped connection, PossDup copies, sequence gaps and restarts. Waits poll the recorded
// fills and the venue's log; nothing sleeps.
#include "support/plugin_harness.hpp"
#include "venue_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace {

using nlohmann::json;
using th::test::Emitted;
using th::test::eventually;
using th::test::PluginHarness;
using th::test::VenueProcess;

std::string temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "fix-broker-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp failed");
  return pattern;
}

struct Intent {
  std::string corr_id = "corr_fix_0001", agent_id = "agent_a", instrument = "AAPL", order_id;
  int32_t side = TH_SIDE_BUY, type = TH_ORDER_MARKET, tif = 0;
  double quantity = 100, limit = 0, stop = 0;
  th_order_intent view() {
    if (order_id.empty())
      order_id = corr_id + "." + agent_id + ".1";
    th_order_intent i{};
    i.struct_size = sizeof i;
    i.corr_id = {corr_id.data(), corr_id.size()};
    i.agent_id = {agent_id.data(), agent_id.size()};
    i.instrument = {instrument.data(), instrument.size()};
    i.order_id = {order_id.data(), order_id.size()};
    i.side = side, i.order_type = type, i.time_in_force = tif, i.quantity = quantity;
    if (limit > 0)
      i.flags |= TH_INTENT_HAS_PRICE_LIMIT, i.price_limit = limit;
    if (stop > 0)
      i.flags |= TH_INTENT_HAS_STOP_PRICE, i.stop_price = stop;
    return i;
  }
};

class FixBroker : public ::testing::Test {
protected:
  void SetUp() override { dir_ = temp_dir(); }
  void TearDown() override {
    broker_.reset();
    venue_.reset();
    if (!HasFailure() && !std::getenv("TRADEHOST_KEEP_TEST_DIRS"))
      std::filesystem::remove_all(dir_);
  }

  void start_venue(std::vector<std::string> args) {
    venue_ = std::make_unique<VenueProcess>(dir_ + "/venue", std::move(args));
  }
  json params(json extra = json::object()) const {
    json p = {{"host", "127.0.0.1"},         {"port", venue_->port()},    {"sender_comp_id", "TRADEHOST"},
              {"target_comp_id", "VENUE"},   {"reconnect_interval_s", 1}, {"logon_timeout_s", 20},
              {"state_dir", dir_ + "/state"}};
    for (auto &[k, v] : extra.items())
      p[k] = v;
    return p;
  }
  void start_broker(json extra = json::object()) {
    broker_ = std::make_unique<PluginHarness>(FIX_BROKER_SO, params(std::move(extra)).dump());
  }
  void send(Intent intent) {
    th_order_intent i = intent.view();
    ASSERT_EQ(broker_->d->on_order_intent(broker_->inst, &i), TH_OK) << broker_->error();
  }
  std::vector<Emitted> fills() {
    std::lock_guard l(broker_->recorder.mutex);
    return broker_->recorder.fills;
  }
  bool await_fills(size_t n) {
    return eventually([&] { return fills().size() >= n; });
  }
  bool logged(const std::string &text) {
    std::lock_guard l(broker_->recorder.mutex);
    for (auto &line : broker_->recorder.logs)
      if (line.find(text) != std::string::npos)
        return true;
    return false;
  }
  bool await_log(const std::string &text) {
    return eventually([&] { return logged(text); });
  }
  std::string logs() {
    std::lock_guard l(broker_->recorder.mutex);
    std::string all;
    for (auto &line : broker_->recorder.logs)
      all += line + "\n";
    return all;
  }

  std::string dir_;
  std::unique_ptr<VenueProcess> venue_;
  std::unique_ptr<PluginHarness> broker_;
};

TEST_F(FixBroker, MarketOrderRoundTrip) {
  start_venue({"--mid", "AAPL=150.25", "--commission-per-share", "0.01"});
  start_broker();
  send(Intent{});
  ASSERT_TRUE(await_fills(1)) << venue_->log();
  auto f = fills()[0];
  EXPECT_EQ(f.fill_status, TH_FILL_COMPLETE);
  EXPECT_EQ(f.quantity, 100);
  EXPECT_EQ(f.quantity_requested, 100);
  EXPECT_DOUBLE_EQ(f.avg_fill_price, 150.25);
  EXPECT_DOUBLE_EQ(f.commission, 1.0);
  EXPECT_EQ(f.order_id, "corr_fix_0001.agent_a.1");
  EXPECT_EQ(f.corr_id, "corr_fix_0001");
  EXPECT_EQ(f.agent_id, "agent_a");
  EXPECT_EQ(f.side, TH_SIDE_BUY);
  EXPECT_EQ(f.execution_venue, "fix:VENUE");
  auto sent = venue_->events("fill_sent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(f.fill_id, "fix-corr_fix_0001.agent_a.1-" + sent[0]["exec_id"].get<std::string>());
  // ClOrdID 11 is the host's order id.
  auto acked = venue_->events("order_acked");
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0]["cl_ord_id"], "corr_fix_0001.agent_a.1");
  EXPECT_EQ(acked[0]["ord_type"], "1");
}

TEST_F(FixBroker, LimitOrdersFillAtTheLimitOrRestUntilCancelled) {
  start_venue({"--mid", "AAPL=150"});
  start_broker();
  Intent marketable;
  marketable.type = TH_ORDER_LIMIT, marketable.limit = 151, marketable.quantity = 10;
  send(marketable);
  ASSERT_TRUE(await_fills(1)) << venue_->log();
  EXPECT_DOUBLE_EQ(fills()[0].avg_fill_price, 151);
  EXPECT_EQ(fills()[0].fill_status, TH_FILL_COMPLETE);

  Intent resting;
  resting.corr_id = "corr_fix_0002", resting.type = TH_ORDER_LIMIT, resting.limit = 140;
  send(resting);
  ASSERT_TRUE(venue_->await("order_resting")) << venue_->log();
  EXPECT_EQ(fills().size(), 1u);
  // The kill switch's cancel_all: an OrderCancelRequest per open order, each cancel recorded.
  ASSERT_EQ(broker_->d->cancel_all(broker_->inst), TH_OK) << broker_->error();
  ASSERT_TRUE(await_fills(2)) << venue_->log();
  EXPECT_EQ(fills()[1].fill_status, TH_FILL_CANCELLED);
  EXPECT_EQ(fills()[1].order_id, "corr_fix_0002.agent_a.1");
  auto cancelled = venue_->events("order_cancelled");
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0]["orig_cl_ord_id"], "corr_fix_0002.agent_a.1");
  EXPECT_EQ(cancelled[0]["cl_ord_id"], "corr_fix_0002.agent_a.1-cxl-1");
}

TEST_F(FixBroker, PartialFillsSumToTheOrder) {
  start_venue({"--partial-fills", "3"});
  start_broker();
  send(Intent{});
  ASSERT_TRUE(await_fills(3)) << venue_->log();
  auto f = fills();
  double total = 0;
  for (auto &x : f)
    total += x.quantity;
  EXPECT_NEAR(total, 100, 1e-9);
  EXPECT_EQ(f[0].fill_status, TH_FILL_PARTIAL);
  EXPECT_EQ(f[1].fill_status, TH_FILL_PARTIAL);
  EXPECT_EQ(f[2].fill_status, TH_FILL_COMPLETE);
  EXPECT_NE(f[0].fill_id, f[1].fill_id);
}

TEST_F(FixBroker, VenueRejectsBecomeRejectedFills) {
  start_venue({"--reject-symbols", "TSLA", "--max-qty", "1000"});
  start_broker();
  Intent symbol;
  symbol.instrument = "TSLA";
  send(symbol);
  Intent big;
  big.corr_id = "corr_fix_0002", big.quantity = 5000;
  send(big);
  ASSERT_TRUE(await_fills(2)) << venue_->log();
  auto f = fills();
  EXPECT_EQ(f[0].fill_status, TH_FILL_REJECTED);
  EXPECT_NE(f[0].rejection_reason.find("not tradable"), std::string::npos) << f[0].rejection_reason;
  EXPECT_EQ(f[1].fill_status, TH_FILL_REJECTED);
  EXPECT_NE(f[1].rejection_reason.find("above the maximum"), std::string::npos) << f[1].rejection_reason;
}

TEST_F(FixBroker, IocRemainderIsCancelledAndDayOrdersExpire) {
  start_venue({"--mid", "AAPL=150", "--day-length-ms", "300"});
  start_broker();
  Intent ioc;
  ioc.type = TH_ORDER_LIMIT, ioc.limit = 140, ioc.tif = TH_TIF_IOC;
  send(ioc);
  ASSERT_TRUE(await_fills(1)) << venue_->log();
  EXPECT_EQ(fills()[0].fill_status, TH_FILL_CANCELLED);
  Intent day;
  day.corr_id = "corr_fix_0002", day.type = TH_ORDER_LIMIT, day.limit = 140;
  send(day);
  ASSERT_TRUE(await_fills(2)) << venue_->log();
  EXPECT_EQ(fills()[1].fill_status, TH_FILL_CANCELLED);
  EXPECT_NE(fills()[1].rejection_reason.find("expired"), std::string::npos) << fills()[1].rejection_reason;
  EXPECT_EQ(venue_->events("order_expired").size(), 1u);
}

// The venue acks, drops the connection and fills while the client is away: the fill reaches
// the plugin by QuickFIX's resend after the reconnect, exactly once.
TEST_F(FixBroker, DisconnectMidOrderThenReconnectLosesAndDoublesNothing) {
  start_venue({"--drop-after-ack", "1", "--fill-delay-ms", "50"});
  start_broker();
  send(Intent{});
  ASSERT_TRUE(venue_->await("fault_drop_connection")) << venue_->log();
  ASSERT_TRUE(venue_->await("logon", 2)) << venue_->log();
  ASSERT_TRUE(await_fills(1)) << venue_->log();
  Intent second;
  second.corr_id = "corr_fix_0002";
  send(second);
  ASSERT_TRUE(await_fills(2)) << venue_->log();
  auto f = fills();
  EXPECT_EQ(f[0].order_id, "corr_fix_0001.agent_a.1");
  EXPECT_EQ(f[1].order_id, "corr_fix_0002.agent_a.1");
  EXPECT_EQ(f[0].quantity, 100);
  EXPECT_EQ(venue_->events("fill_sent").size(), 2u);
}

TEST_F(FixBroker, PossDupCopyOfAFillIsIgnored) {
  start_venue({"--possdup-fill", "1"});
  start_broker();
  send(Intent{});
  ASSERT_TRUE(venue_->await("fault_possdup_sent")) << venue_->log();
  ASSERT_TRUE(await_log("(PossDup resend); ignored")) << logs() << venue_->log();
  EXPECT_EQ(fills().size(), 1u);
}

TEST_F(FixBroker, SequenceGapIsFilledByResend) {
  start_venue({"--skip-seq", "1:5", "--store", dir_ + "/venue-store"});
  start_broker();
  send(Intent{});
  ASSERT_TRUE(venue_->await("fault_skip_seq")) << venue_->log();
  ASSERT_TRUE(await_fills(1)) << logs() << venue_->log();
  Intent second;
  second.corr_id = "corr_fix_0002";
  send(second);
  ASSERT_TRUE(await_fills(2)) << venue_->log();
  EXPECT_EQ(fills()[0].order_id, "corr_fix_0001.agent_a.1");
  EXPECT_EQ(fills()[1].order_id, "corr_fix_0002.agent_a.1");
}

// A new instance on the same state directory (a host restart) while the venue resends every
// fill at logon: the journal's ExecIDs keep them from being filled again.
TEST_F(FixBroker, RestartDoesNotFillTwice) {
  start_venue({"--replay-fills-on-logon", "--partial-fills", "2"});
  start_broker();
  send(Intent{});
  ASSERT_TRUE(await_fills(2)) << venue_->log();
  broker_.reset();
  ASSERT_TRUE(venue_->await("logout")) << venue_->log();
  start_broker();
  ASSERT_TRUE(venue_->await("fault_fills_replayed", 2)) << venue_->log();
  ASSERT_TRUE(await_log("(PossDup resend); ignored")) << logs() << venue_->log();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard l(broker_->recorder.mutex);
    return broker_->recorder.metrics["fix_broker_duplicate_executions_total{}"] >= 2;
  }));
  EXPECT_EQ(fills().size(), 0u) << "a replayed fill was emitted again";
  // The restarted instance still trades: its sequence numbers continued from the store.
  Intent second;
  second.corr_id = "corr_fix_0002";
  send(second);
  ASSERT_TRUE(await_fills(2)) << venue_->log();
  EXPECT_EQ(fills()[0].order_id, "corr_fix_0002.agent_a.1");
}

// A venue restart on its FileStore: the plugin reconnects by itself and trades on.
TEST_F(FixBroker, VenueRestartIsReconnected) {
  start_venue({"--store", dir_ + "/venue-store"});
  start_broker();
  send(Intent{});
  ASSERT_TRUE(await_fills(1));
  venue_->kill();
  ASSERT_TRUE(await_log("logged out"));
  venue_->start();
  ASSERT_TRUE(await_log("logged on")) << venue_->log();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard l(broker_->recorder.mutex);
    return broker_->recorder.metrics["fix_broker_logons_total{}"] >= 2;
  }));
  Intent second;
  second.corr_id = "corr_fix_0002";
  send(second);
  ASSERT_TRUE(await_fills(2)) << venue_->log();
  EXPECT_EQ(fills()[1].fill_status, TH_FILL_COMPLETE);
}

TEST_F(FixBroker, NoSessionRejectsIntentsAsVenueUnavailable) {
  start_venue({});
  const int port = venue_->port();
  venue_->kill();
  broker_ = std::make_unique<PluginHarness>(FIX_BROKER_SO, json{{"port", port},
                                                                {"sender_comp_id", "TRADEHOST"},
                                                                {"target_comp_id", "VENUE"},
                                                                {"logon_timeout_s", 0.2},
                                                                {"state_dir", dir_ + "/state"}}
                                                               .dump());
  send(Intent{});
  ASSERT_EQ(fills().size(), 1u);
  EXPECT_EQ(fills()[0].fill_status, TH_FILL_REJECTED);
  EXPECT_NE(fills()[0].rejection_reason.find("venue_unavailable"), std::string::npos);
}

TEST_F(FixBroker, CredentialsComeFromTheEnvironmentAndAreNeverLogged) {
  ::setenv("FIX_TEST_PASSWORD", "s3cret-pass-Zq", 1);
  start_venue({"--username", "trader", "--password-env", "FIX_TEST_PASSWORD"});
  start_broker({{"username", "trader"}, {"password_env", "FIX_TEST_PASSWORD"}});
  send(Intent{});
  ASSERT_TRUE(await_fills(1)) << venue_->log();
  std::lock_guard l(broker_->recorder.mutex);
  for (auto &line : broker_->recorder.logs)
    EXPECT_EQ(line.find("s3cret-pass-Zq"), std::string::npos) << line;
  EXPECT_EQ(venue_->log().find("s3cret-pass-Zq"), std::string::npos);
}

TEST_F(FixBroker, AWrongPasswordIsRefusedAtLogon) {
  ::setenv("FIX_TEST_PASSWORD", "right", 1);
  ::setenv("FIX_TEST_WRONG", "wrong", 1);
  start_venue({"--password-env", "FIX_TEST_PASSWORD"});
  start_broker({{"password_env", "FIX_TEST_WRONG"}, {"logon_timeout_s", 0.5}});
  ASSERT_TRUE(venue_->await("logon_rejected")) << venue_->log();
  send(Intent{});
  ASSERT_EQ(fills().size(), 1u);
  EXPECT_EQ(fills()[0].fill_status, TH_FILL_REJECTED);
}

#ifdef TH_ORDER_STATUS_ACCEPTED // ABI 1.2: cancels and replaces from the host
TEST_F(FixBroker, CancelAndReplaceGoOutAs35Fand35G) {
  start_venue({"--mid", "AAPL=150"});
  start_broker();
  Intent resting;
  resting.type = TH_ORDER_LIMIT, resting.limit = 140;
  send(resting);
  ASSERT_TRUE(venue_->await("order_resting")) << venue_->log();
  const std::string order_id = "corr_fix_0001.agent_a.1", replace_id = order_id + ".r1",
                    cancel_id = order_id + ".c1";
  th_order_replace r{};
  r.struct_size = sizeof r;
  r.flags = TH_REPLACE_HAS_QUANTITY | TH_REPLACE_HAS_PRICE_LIMIT;
  r.order_id = {order_id.data(), order_id.size()};
  r.request_id = {replace_id.data(), replace_id.size()};
  r.quantity = 50, r.price_limit = 145;
  ASSERT_EQ(broker_->d->on_replace(broker_->inst, &r), TH_OK) << broker_->error();
  ASSERT_TRUE(venue_->await("order_replaced")) << venue_->log();
  auto replaced = venue_->events("order_replaced")[0];
  EXPECT_EQ(replaced["orig_cl_ord_id"], order_id);
  EXPECT_EQ(replaced["cl_ord_id"], replace_id);
  EXPECT_EQ(replaced["qty"], 50);
  EXPECT_EQ(replaced["price"], 145);
  // The cancel names the order's ClOrdID at the venue: the replace's.
  ASSERT_TRUE(await_log("ExecType 5"));
  th_order_cancel c{};
  c.struct_size = sizeof c;
  c.order_id = {order_id.data(), order_id.size()};
  c.request_id = {cancel_id.data(), cancel_id.size()};
  ASSERT_EQ(broker_->d->on_cancel(broker_->inst, &c), TH_OK) << broker_->error();
  ASSERT_TRUE(await_fills(1)) << venue_->log();
  EXPECT_EQ(fills()[0].fill_status, TH_FILL_CANCELLED);
  auto cancelled = venue_->events("order_cancelled");
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0]["orig_cl_ord_id"], replace_id);
  EXPECT_EQ(cancelled[0]["cl_ord_id"], cancel_id);
  // A second cancel of the closed order is answered with its status, not sent.
  const std::string again = order_id + ".c2";
  c.request_id = {again.data(), again.size()};
  ASSERT_EQ(broker_->d->on_cancel(broker_->inst, &c), TH_OK) << broker_->error();
  EXPECT_EQ(venue_->events("order_cancelled").size() + venue_->events("cancel_rejected").size(), 1u);
}
#endif

TEST_F(FixBroker, BadParamsAreRefused) {
  start_venue({});
  EXPECT_THROW(PluginHarness(FIX_BROKER_SO, R"({"port": 1})"), std::runtime_error);
  EXPECT_THROW(PluginHarness(FIX_BROKER_SO, params({{"bogus", 1}}).dump()), std::runtime_error);
  EXPECT_THROW(PluginHarness(FIX_BROKER_SO, params({{"password_env", "FIX_TEST_UNSET_VARIABLE"}}).dump()),
               std::runtime_error);
}

} // namespace
