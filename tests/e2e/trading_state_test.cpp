// Issue 13 finding 11: the host's trading state (active, reducing, halted) over a real
// tradehost: set over HTTP and the CLI, persisted in data_dir/trading_state.json and restored,
// enforced before the risk chain, audited, on a gauge; halted cancels exec-sim's working orders
// with a record each; a state that cannot be stored is refused with 500 and changes nothing.
#include "host_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using nlohmann::json;
using th::test::eventually;
using th::test::HostProcess;

namespace {

const std::string config = std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml";

std::string signal(const char *action, double price) {
  return json{{"instrument", "AAPL"}, {"price", price}, {"signal", action}, {"strength", 0.9}}.dump();
}

th::gateway::ClientResponse admin(HostProcess &host, const std::string &method, const std::string &path,
                                  const json &body = nullptr) {
  return th::gateway::http_request(method, host.url(path), body.is_null() ? "" : body.dump(),
                                   {{"Authorization", std::string("Bearer ") + HostProcess::admin_token}});
}

th::gateway::ClientResponse set_state(HostProcess &host, const std::string &state) {
  return admin(host, "POST", "/admin/trading-state", {{"state", state}, {"reason", "trading_state_test"}});
}

double position(HostProcess &host) {
  auto body = json::parse(host.get("/positions").body, nullptr, false);
  if (body.is_object())
    for (auto &p : body["positions"])
      if (p["agent_id"] == "momentum_v1" && p["instrument"] == "AAPL")
        return p["quantity"].get<double>();
  return 0;
}

bool metric_is(HostProcess &host, const std::string &line) {
  return host.get("/metrics").body.find(line + "\n") != std::string::npos;
}

// Audit rows of one type: (correlation_id, data).
std::vector<std::pair<std::string, json>> rows_of(const HostProcess &host, const std::string &type) {
  auto [code, out] = host.tradehost("audit export " + host.audit_db());
  EXPECT_EQ(code, 0) << out;
  std::vector<std::pair<std::string, json>> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto row = json::parse(line, nullptr, false);
    if (row.is_object() && row.value("event_type", "") == type)
      rows.emplace_back(row["correlation_id"],
                        row["data"].is_string() ? json::parse(row["data"].get<std::string>()) : row["data"]);
  }
  return rows;
}

} // namespace

TEST(TradingState, HaltedRejectsEveryIntentCancelsWorkingOrdersAndSurvivesARestart) {
  HostProcess host;
  host.start();
  EXPECT_TRUE(metric_is(host, R"(tradehost_trading_state{state="active"} 1)")) << host.get("/metrics").body;
  auto first = host.post_webhook(signal("buy", 150));
  ASSERT_EQ(first.status, 200);
  std::string entry = json::parse(first.body)["corr_id"];
  ASSERT_TRUE(eventually([&] { return position(host) == 100; })); // with exec-sim's protective stop

  EXPECT_EQ(set_state(host, "halted").status, 200);
  auto r = admin(host, "GET", "/admin/trading-state");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["state"], "halted");
  EXPECT_TRUE(metric_is(host, R"(tradehost_trading_state{state="halted"} 1)"));
  EXPECT_TRUE(metric_is(host, R"(tradehost_trading_state{state="active"} 0)"));
  EXPECT_EQ(set_state(host, "bogus").status, 422);
  EXPECT_EQ(th::gateway::http_request("POST", host.url("/admin/trading-state"), R"({"state":"active"})",
                                      {{"Authorization", "Bearer wrong"}})
                .status,
            401);

  ASSERT_EQ(host.post_webhook(signal("buy", 151)).status, 200);
  ASSERT_EQ(host.post_webhook(signal("sell", 152)).status, 200); // even a reducing one
  EXPECT_TRUE(eventually([&] {
    return metric_is(host, R"(agent_risk_checks_failed_total{reason="trading_halted"} 2)");
  })) << host.get("/metrics").body;
  EXPECT_EQ(position(host), 100);

  // Stored before it took effect, and restored by the next process.
  std::ifstream file(host.data_dir() + "/trading_state.json");
  json stored = json::parse(file, nullptr, false);
  EXPECT_EQ(stored.value("state", ""), "halted");
  ASSERT_EQ(host.terminate(), 0) << host.log();

  // The halt cancelled the simulator's protective stop, recorded; the change itself is audited.
  auto cancels = rows_of(host, "order_cancelled");
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].first, entry);
  EXPECT_EQ(cancels[0].second["code"], "EXEC-106");
  EXPECT_EQ(cancels[0].second["kind"], "protection");
  auto changes = rows_of(host, "trading_state_changed");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].second["previous"], "active");
  EXPECT_EQ(changes[0].second["state"], "halted");
  EXPECT_EQ(changes[0].second["reason"], "trading_state_test");

  host.start();
  r = admin(host, "GET", "/admin/trading-state");
  EXPECT_EQ(json::parse(r.body, nullptr, false).value("state", ""), "halted") << r.body;
  EXPECT_TRUE(metric_is(host, R"(tradehost_trading_state{state="halted"} 1)"));
  ASSERT_EQ(host.post_webhook(signal("buy", 153)).status, 200);
  EXPECT_TRUE(eventually([&] {
    return metric_is(host, R"(agent_risk_checks_failed_total{reason="trading_halted"} 1)");
  })) << host.get("/metrics").body;

  // The CLI: set and show (it only talks to the host's admin endpoint).
  auto [code, out] = host.tradehost("trading-state -c " + config + " --url " + host.url("") + " active");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("active (was halted)"), std::string::npos) << out;
  std::tie(code, out) = host.tradehost("trading-state -c " + config + " --url " + host.url(""));
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "active\n");
  std::tie(code, out) = host.tradehost("trading-state -c " + config + " --url " + host.url("") + " paused");
  EXPECT_EQ(code, 2) << out;
  ASSERT_EQ(host.post_webhook(signal("buy", 154)).status, 200);
  EXPECT_TRUE(eventually([&] { return position(host) == 200; })) << host.get("/positions").body;
  EXPECT_EQ(host.terminate(), 0) << host.log();
}

TEST(TradingState, ReducingLetsOnlyPositionReducingIntentsPass) {
  HostProcess host;
  host.start();
  ASSERT_EQ(host.post_webhook(signal("buy", 150)).status, 200);
  ASSERT_TRUE(eventually([&] { return position(host) == 100; }));
  ASSERT_EQ(set_state(host, "reducing").status, 200);

  ASSERT_EQ(host.post_webhook(signal("buy", 151)).status, 200); // adds: refused
  EXPECT_TRUE(eventually([&] {
    return metric_is(host, R"(agent_risk_checks_failed_total{reason="trading_reducing"} 1)");
  })) << host.get("/metrics").body;
  EXPECT_EQ(position(host), 100);
  ASSERT_EQ(host.post_webhook(signal("sell", 152)).status, 200); // flattens: passes
  EXPECT_TRUE(eventually([&] { return position(host) == 0; })) << host.get("/positions").body;
  ASSERT_EQ(host.post_webhook(signal("sell", 153)).status, 200); // would open a short: refused
  EXPECT_TRUE(eventually([&] {
    return metric_is(host, R"(agent_risk_checks_failed_total{reason="trading_reducing"} 2)");
  })) << host.get("/metrics").body;
  EXPECT_EQ(position(host), 0);
  EXPECT_TRUE(metric_is(host, R"(tradehost_trading_state{state="reducing"} 1)"));
  EXPECT_EQ(host.terminate(), 0) << host.log();
}

TEST(TradingState, AStateThatCannotBeStoredIsRefusedWith500AndTradingGoesOnAsReported) {
  HostProcess host;
  host.start();
  // The temporary file cannot be created (a directory is in its place), even for root.
  std::filesystem::create_directories(host.data_dir() + "/trading_state.json.tmp");

  auto r = set_state(host, "halted");
  EXPECT_EQ(r.status, 500) << r.body;
  auto answer = json::parse(r.body, nullptr, false);
  EXPECT_NE(answer.value("detail", "").find("not stored"), std::string::npos) << r.body;
  EXPECT_EQ(answer.value("state", ""), "active") << r.body;
  r = admin(host, "POST", "/admin/kill-switch", {{"enabled", true}}); // the alias, the same
  EXPECT_EQ(r.status, 500) << r.body;
  r = admin(host, "GET", "/admin/trading-state");
  EXPECT_EQ(json::parse(r.body, nullptr, false).value("state", ""), "active") << r.body;
  EXPECT_TRUE(metric_is(host, R"(tradehost_trading_state{state="active"} 1)"));
  EXPECT_NE(host.log().find(R"("event":"trading_state_not_changed")"), std::string::npos) << host.log();

  ASSERT_EQ(host.post_webhook(signal("buy", 150)).status, 200); // and it really is active
  EXPECT_TRUE(eventually([&] { return position(host) == 100; })) << host.get("/positions").body;
  auto [code, out] = host.tradehost("trading-state -c " + config + " --url " + host.url("") + " halted");
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("HTTP 500"), std::string::npos) << out;
  EXPECT_EQ(host.terminate(), 0) << host.log();
  EXPECT_TRUE(rows_of(host, "trading_state_changed").empty());
}
