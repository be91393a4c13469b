// End-to-end tests: the tradehost binary with configs/dev.yaml and the built-in plugins.
#include "host_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

using nlohmann::json;
using th::test::eventually;
using th::test::HostOptions;
using th::test::HostProcess;

namespace {

const char *const seed_signal = R"({"instrument":"AAPL","price":150.25,"signal":"buy","strength":0.8})";

double position_of(HostProcess &host, const std::string &agent, const std::string &instrument) {
  auto body = json::parse(host.get("/positions").body, nullptr, false);
  if (!body.is_object())
    return 0;
  for (auto &p : body["positions"])
    if (p["agent_id"] == agent && p["instrument"] == instrument)
      return p["quantity"].get<double>();
  return 0;
}

// Audit rows exported as JSON lines.
std::vector<json> export_audit(const HostProcess &host) {
  auto [code, out] = host.tradehost("audit export " + host.audit_db());
  EXPECT_EQ(code, 0) << out;
  std::vector<json> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (auto j = json::parse(line, nullptr, false); j.is_object())
      rows.push_back(j);
  return rows;
}

// n normalized signals alternating buys and sells around a drifting price.
std::string write_signals(const std::string &path, int n, const std::string &instrument = "AAPL") {
  std::ofstream out(path);
  for (int i = 0; i < n; ++i) {
    double price = 100 + (i % 40) * 0.25 - (i % 7) * 0.1;
    char ts[64];
    std::snprintf(ts, sizeof ts, "2025-01-15T10:%02d:%02d.%03dZ", (i / 60) % 60, i % 60, i % 1000);
    out << json{{"corr_id", "replay_" + std::to_string(100000 + i)},
                {"instrument", instrument},
                {"signal", i % 3 == 2 ? "sell" : "buy"},
                {"strength", 0.9},
                {"price", price},
                {"timestamp", ts}}
               .dump()
        << "\n";
  }
  return path;
}

} // namespace

TEST(EndToEnd, SignedWebhookBecomesAnAuditedFill) {
  HostProcess host;
  host.start();
  auto r = host.post_webhook(seed_signal);
  ASSERT_EQ(r.status, 200) << r.body;
  auto accepted = json::parse(r.body);
  EXPECT_EQ(accepted["status"], "accepted");
  std::string corr_id = accepted["corr_id"];
  EXPECT_TRUE(eventually([&] { return position_of(host, "momentum_v1", "AAPL") == 100; }))
      << host.get("/positions").body;

  auto health = json::parse(host.get("/healthz").body);
  EXPECT_EQ(health["ok"], true);
  EXPECT_EQ(health["nats"], "embedded");
  EXPECT_EQ(health["processor_status"], "active");

  EXPECT_EQ(host.terminate(), 0) << host.log();
  EXPECT_NE(host.log().find(R"("event":"stopped")"), std::string::npos);

  std::map<std::string, int64_t> position_of_type;
  for (auto &row : export_audit(host))
    if (row.value("correlation_id", "") == corr_id)
      position_of_type[row.value("event_type", "")] = row.value("chain_position", int64_t{0});
  for (const char *t : {"webhook_received", "signal_published", "decision_made", "order_sent",
                        "fill_received", "position_updated"})
    EXPECT_TRUE(position_of_type.count(t)) << "missing audit event " << t;
  EXPECT_LT(position_of_type["webhook_received"], position_of_type["signal_published"]);

  auto [code, out] = host.tradehost("audit verify " + host.audit_db() + " --pubkey " + host.data_dir() +
                                    "/audit-signing.pub");
  EXPECT_EQ(code, 0) << out;
}

TEST(EndToEnd, MetricsCarryTheContractNames) {
  HostProcess host;
  host.start();
  ASSERT_EQ(host.post_webhook(seed_signal).status, 200);
  std::string metrics = host.get("/metrics").body;
  for (const char *name :
       {"gateway_webhooks_received_total", "gateway_validation_errors_total",
        "gateway_request_duration_seconds", "gateway_rate_limit_exceeded_total",
        "gateway_replay_attacks_blocked_total", "agent_signals_received_total", "agent_decisions_made_total",
        "agent_decision_latency_seconds", "agent_risk_checks_failed_total", "audit_events_total",
        "audit_hash_validations_total"})
    EXPECT_NE(metrics.find(name), std::string::npos) << name;
  EXPECT_TRUE(eventually(
      [&] { return host.get("/metrics").body.find("exec_sim_fills_generated_total") != std::string::npos; }));
  EXPECT_EQ(host.terminate(), 0);
}

// Issue 18 part 4: the seed's `success`, one meaning of `strategy` (the agent id), and the
// gauges users chart: position and PnL per agent and instrument, consumer lag per durable.
// Counters whose label values are known count from zero before their first event.
TEST(EndToEnd, MetricsCarryPositionsPnlAndLagWithTheSeedsLabels) {
  HostProcess host;
  host.start();
  const std::string before = host.get("/metrics").body;
  for (const char *zero : {R"(agent_decisions_made_total{strategy="momentum_v1"} 0)",
                           R"(agent_risk_checks_failed_total{reason="trading_halted"} 0)",
                           R"(agent_risk_checks_failed_total{reason="audit_unavailable"} 0)",
                           R"(audit_hash_validations_total{status="valid"} 0)"})
    EXPECT_NE(before.find(zero), std::string::npos) << zero << "\n" << before;
  ASSERT_EQ(host.post_webhook(seed_signal).status, 200);
  ASSERT_TRUE(eventually([&] { return position_of(host, "momentum_v1", "AAPL") == 100; }));
  std::string metrics = host.get("/metrics").body;
  EXPECT_NE(metrics.find(R"(gateway_webhooks_received_total{source="test",status="success"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(agent_decisions_made_total{strategy="momentum_v1"} 1)"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(agent_decision_latency_seconds_count{strategy="momentum_v1"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(tradehost_position{agent_id="momentum_v1",instrument="AAPL"} 100)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(tradehost_realized_pnl{agent_id="momentum_v1",instrument="AAPL"} -)"),
            std::string::npos)
      << "the fill's fees are realized: " << metrics;
  EXPECT_NE(metrics.find(R"(tradehost_unrealized_pnl{agent_id="momentum_v1",instrument="AAPL"})"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(tradehost_consumer_pending{durable="exec-intents"})"), std::string::npos)
      << metrics;
  EXPECT_EQ(host.terminate(), 0);
}

TEST(EndToEnd, ABrokenPluginIsReportedAndTheRestRuns) {
  std::string dir = th::test::make_temp_dir("tradehost-plugins");
  for (auto &entry : std::filesystem::directory_iterator(TRADEHOST_PLUGIN_BUILD_DIR))
    if (entry.path().extension() == ".so")
      std::filesystem::copy_file(entry.path(), dir / entry.path().filename());
  std::ofstream(dir + "/garbage.so") << "this is not a shared library\n";
  HostOptions options;
  options.plugin_dir = dir;
  HostProcess host(options);
  host.start();
  EXPECT_NE(host.log().find("garbage.so"), std::string::npos) << host.log();
  ASSERT_EQ(host.post_webhook(seed_signal).status, 200);
  EXPECT_TRUE(eventually([&] { return position_of(host, "momentum_v1", "AAPL") == 100; }));
  EXPECT_EQ(host.terminate(), 0);
  std::filesystem::remove_all(dir);
}

TEST(EndToEnd, KillSwitchRejectsEverythingUntilReleased) {
  HostProcess host;
  host.start();
  auto engage = [&](bool on, const std::string &token) {
    return th::gateway::http_request("POST", host.url("/admin/kill-switch"), json{{"enabled", on}}.dump(),
                                     {{"Authorization", "Bearer " + token}});
  };
  EXPECT_EQ(engage(true, "wrong-token").status, 401);
  ASSERT_EQ(engage(true, HostProcess::admin_token).status, 200);
  ASSERT_EQ(host.post_webhook(seed_signal).status, 200);
  EXPECT_TRUE(eventually([&] {
    // The alias of POST /admin/trading-state: the host's gate rejects before the risk chain.
    return host.get("/metrics").body.find(R"(agent_risk_checks_failed_total{reason="trading_halted"} 1)") !=
           std::string::npos;
  })) << host.get("/metrics").body;
  EXPECT_EQ(position_of(host, "momentum_v1", "AAPL"), 0);

  ASSERT_EQ(engage(false, HostProcess::admin_token).status, 200);
  ASSERT_EQ(host.post_webhook(seed_signal).status, 200);
  EXPECT_TRUE(eventually([&] { return position_of(host, "momentum_v1", "AAPL") == 100; }));
  EXPECT_EQ(host.terminate(), 0);
  EXPECT_EQ(host.log().find(HostProcess::admin_token), std::string::npos)
      << "the admin token leaked into the log";
  EXPECT_EQ(host.log().find(HostProcess::secret), std::string::npos)
      << "the webhook secret leaked into the log";
}

TEST(EndToEnd, ReplayIsDeterministic) {
  HostProcess a, b;
  std::string signals = write_signals(a.data_dir() + "/signals.jsonl", 300);
  auto [code_a, out_a] = a.tradehost("replay -c " + std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml " +
                                     signals + " --json --events " + a.data_dir() + "/events.jsonl");
  auto [code_b, out_b] = b.tradehost("replay -c " + std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml " +
                                     signals + " --json --events " + b.data_dir() + "/events.jsonl");
  ASSERT_EQ(code_a, 0) << out_a;
  ASSERT_EQ(code_b, 0) << out_b;
  auto read = [](const std::string &p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  std::string events_a = read(a.data_dir() + "/events.jsonl");
  EXPECT_GT(events_a.size(), 1000u);
  EXPECT_NE(events_a.find("executions.fill"), std::string::npos);
  EXPECT_EQ(events_a, read(b.data_dir() + "/events.jsonl"));
}

TEST(EndToEnd, CrashDuringReplayLeavesAVerifiableChainThatContinues) {
  HostProcess host;
  std::string big = write_signals(host.data_dir() + "/big.jsonl", 20000);
  std::string config = std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml";
  std::string head_cmd = "audit head " + host.audit_db();
  auto head_position = [&] {
    auto [code, out] = host.tradehost(head_cmd);
    auto j = json::parse(out, nullptr, false);
    return code == 0 && j.is_object() ? j.value("chain_position", uint64_t{0}) : uint64_t{0};
  };
  {
    auto env = host.env();
    th::test::ChildProcess replay({TRADEHOST_BIN, "replay", "-c", config, big},
                                  host.data_dir() + "/replay.log", env);
    ASSERT_TRUE(eventually([&] { return head_position() > 200; }, std::chrono::seconds(60)));
    replay.signal(SIGKILL);
    EXPECT_EQ(replay.wait(), 128 + SIGKILL);
  }
  auto [code, out] = host.tradehost("audit verify " + host.audit_db());
  EXPECT_EQ(code, 0) << out;
  uint64_t after_crash = head_position();
  ASSERT_GT(after_crash, 200u);

  std::string more = write_signals(host.data_dir() + "/more.jsonl", 50, "MSFT");
  auto [rcode, rout] = host.tradehost("replay -c " + config + " " + more);
  EXPECT_EQ(rcode, 0) << rout;
  EXPECT_GT(head_position(), after_crash);
  auto [vcode, vout] = host.tradehost("audit verify " + host.audit_db());
  EXPECT_EQ(vcode, 0) << vout;
}

TEST(EndToEnd, ValidateNamesTheProblemAndItsLine) {
  HostProcess host;
  auto [ok_code, ok_out] =
      host.tradehost("validate -c " + std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml");
  EXPECT_EQ(ok_code, 0) << ok_out;
  std::string bad = host.data_dir() + "/bad.yaml";
  std::ofstream(bad) << "version: 1\nplugin_dirs: [" << TRADEHOST_PLUGIN_BUILD_DIR
                     << "]\nagents:\n  - id: a1\n    strategy:\n      plugin: momentum\n      params:\n"
                        "        lookback: \"twenty\"\n";
  auto [code, out] = host.tradehost("validate -c " + bad);
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("bad.yaml:8"), std::string::npos) << out;
  EXPECT_NE(out.find("lookback"), std::string::npos) << out;
}
