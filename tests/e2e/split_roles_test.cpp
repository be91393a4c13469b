// Split roles over a real nats-server (JetStream): gateway, agent, exec and audit each in their
// own tradehost process, joined only by the stream.
#include "../support/nats_server.hpp"
#include "bus/jetstream_bus.hpp"
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

// configs/split-roles/trading.yaml with limits wide enough that every signal trades: momentum
// never leaves warm-up (so it follows each signal) and no risk limit is reached.
std::string split_config() {
  static const std::string path = [] {
    std::ifstream in(std::string(TRADEHOST_SOURCE_DIR) + "/configs/split-roles/trading.yaml");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    auto replace_all = [&](const std::string &from, const std::string &to) {
      for (size_t pos; (pos = text.find(from)) != std::string::npos;)
        text.replace(pos, from.size(), to);
    };
    replace_all("lookback: 20", "lookback: 10000");
    replace_all("max_position: 1000\n", "max_position: 100000000\n");
    replace_all("max_orders_per_second: 100\n", "max_orders_per_second: 1000000\n");
    std::string file = th::test::make_temp_dir("tradehost-split") + "/trading.yaml";
    std::ofstream(file) << text;
    return file;
  }();
  return path;
}

std::unique_ptr<HostProcess> role(const th::test::NatsServer &nats, const std::string &name) {
  HostOptions o;
  o.config = split_config();
  o.env = {{"NATS_URL", nats.url()}, {"TRADEHOST_NATS_NAME", name}};
  o.args = {"--role", name, "--listen", "127.0.0.1:0"};
  auto p = std::make_unique<HostProcess>(o);
  p->start();
  return p;
}

// corr_id -> event types in the audit process's trail.
std::map<std::string, std::multiset<std::string>> audit_by_corr(const HostProcess &audit) {
  auto [code, out] = audit.tradehost("audit export " + audit.audit_db());
  std::map<std::string, std::multiset<std::string>> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (auto j = json::parse(line, nullptr, false); j.is_object())
      rows[j.value("correlation_id", "")].insert(j.value("event_type", ""));
  return rows;
}

double quantity_of(HostProcess &host, const std::string &instrument) {
  auto body = json::parse(host.get("/positions").body, nullptr, false);
  if (!body.is_object() || !body.contains("positions"))
    return 0;
  for (auto &p : body["positions"])
    if (p["agent_id"] == "momentum_v1" && p["instrument"] == instrument)
      return p["quantity"].get<double>();
  return 0;
}

std::string body(int i) {
  return json{{"instrument", "AAPL"}, {"price", 100.0 + (i % 10)}, {"signal", "buy"}, {"strength", 0.9}}
      .dump();
}

} // namespace

TEST(SplitRoles, AWebhookBecomesAFillAndAnAuditRowAcrossFourProcesses) {
  th::test::NatsServer nats;
  auto gateway = role(nats, "gateway");
  auto agent = role(nats, "agent");
  auto exec = role(nats, "exec");
  auto audit = role(nats, "audit");

  auto r = gateway->post_webhook(body(0));
  ASSERT_EQ(r.status, 200) << r.body << gateway->log();
  std::string corr_id = json::parse(r.body)["corr_id"];
  EXPECT_TRUE(eventually(
      [&] {
        auto rows = audit_by_corr(*audit);
        return rows[corr_id].count("fill_received") == 1 && rows[corr_id].count("position_updated") == 1;
      },
      std::chrono::seconds(30)))
      << audit->log();
  auto health = json::parse(agent->get("/healthz").body);
  EXPECT_EQ(health["nats"], "connected");
  EXPECT_EQ(health["consumer"]["durable_name"].is_string(), true);
  // The agent role also creates the contract's durable for meta agents.
  EXPECT_NE(agent->log().find(R"("durable":"meta-decisions")"), std::string::npos) << agent->log();
  for (auto *p : {gateway.get(), agent.get(), exec.get(), audit.get()})
    EXPECT_EQ(p->terminate(), 0) << p->log();
}

TEST(SplitRoles, ANatsRestartMidStreamLosesAndDuplicatesNothing) {
  th::test::NatsServer nats;
  auto gateway = role(nats, "gateway");
  auto agent = role(nats, "agent");
  auto exec = role(nats, "exec");
  auto audit = role(nats, "audit");

  std::vector<std::string> accepted;
  for (int i = 0; i < 60; ++i) {
    if (i == 30) {
      nats.stop(SIGKILL);
      nats.start();
    }
    auto r = gateway->post_webhook(body(i));
    if (r.status == 200)
      accepted.push_back(json::parse(r.body)["corr_id"]);
    else
      EXPECT_EQ(r.status, 503) << r.body; // GW-009 while the server is away: nothing accepted
  }
  ASSERT_GE(accepted.size(), 30u);
  EXPECT_TRUE(eventually(
      [&] {
        auto rows = audit_by_corr(*audit);
        for (auto &c : accepted)
          if (rows[c].count("fill_received") != 1 || rows[c].count("signal_published") != 1)
            return false;
        return true;
      },
      std::chrono::seconds(60)))
      << audit->log() << exec->log();
  auto rows = audit_by_corr(*audit);
  for (auto &c : accepted) {
    EXPECT_EQ(rows[c].count("fill_received"), 1u) << c;
    EXPECT_EQ(rows[c].count("decision_made"), 1u) << c;
  }
  auto [code, out] = audit->tradehost("audit verify " + audit->audit_db());
  EXPECT_EQ(code, 0) << out;
  for (auto *p : {gateway.get(), agent.get(), exec.get(), audit.get()})
    p->terminate();
}

// Finding 9 and 15 (portfolio) with split roles: the exec process's portfolio is the record
// (data_dir/portfolio/fills.jsonl) and survives its restart; the agent process's mirror applies
// the same fills (its own agent-mirror.jsonl) and agrees with it after both restart; a fill
// republished under another message id (as after a failover) is applied once by both; the
// gateway says where positions live instead of answering an empty list.
TEST(SplitRoles, ExecAndTheAgentMirrorKeepOneRecordOfPositionsAcrossRestartsAndDuplicates) {
  th::test::NatsServer nats;
  auto gateway = role(nats, "gateway");
  auto agent = role(nats, "agent");
  auto exec = role(nats, "exec");
  auto audit = role(nats, "audit");

  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(gateway->post_webhook(body(i)).status, 200);
  ASSERT_TRUE(eventually([&] { return quantity_of(*exec, "AAPL") == 300; }, std::chrono::seconds(30)))
      << exec->get("/positions").body << exec->log();
  ASSERT_TRUE(eventually([&] { return quantity_of(*agent, "AAPL") == 300; }, std::chrono::seconds(30)))
      << agent->get("/positions").body;
  EXPECT_EQ(json::parse(exec->get("/positions").body)["source"], "portfolio");
  EXPECT_EQ(json::parse(agent->get("/positions").body)["source"], "mirror");

  auto at_gateway = gateway->get("/positions");
  EXPECT_EQ(at_gateway.status, 404) << at_gateway.body;
  EXPECT_EQ(json::parse(at_gateway.body, nullptr, false).value("positions_role", ""), "exec")
      << at_gateway.body;

  // Restarts: exec cleanly, the agent with kill -9. Both come back with the same position.
  ASSERT_EQ(exec->terminate(), 0) << exec->log();
  exec->start();
  agent->kill();
  agent->start();
  EXPECT_EQ(quantity_of(*exec, "AAPL"), 300) << exec->get("/positions").body;
  EXPECT_EQ(quantity_of(*agent, "AAPL"), 300) << agent->get("/positions").body;

  // The same fill twice more on the stream under new message ids: a failover's republication.
  th::JetStreamOptions options = th::default_jetstream_options();
  options.servers = {nats.url()};
  options.connection_name = "split-roles-test";
  auto bus = th::make_jetstream_bus(options);
  bus->start();
  th::Fill fill;
  fill.corr_id = "dup_fill_corr_0001";
  fill.fill_id = "sim-dup_fill_corr_0001-1";
  fill.order_id = "sim-dup_fill_corr_0001";
  fill.agent_id = "momentum_v1";
  fill.instrument = "MSFT";
  fill.side = TH_SIDE_BUY;
  fill.fill_status = TH_FILL_COMPLETE;
  fill.quantity_filled = 10;
  fill.avg_fill_price = 400;
  fill.fill_timestamp_ns = 1736937000000000000;
  fill.execution_venue = "simulator";
  for (const char *id : {"dup-first", "dup-second", "dup-third"})
    ASSERT_EQ(bus->publish(th::Message{th::Subject::executions_fill, fill, id}), th::PublishStatus::ok);
  EXPECT_TRUE(
      eventually([&] { return quantity_of(*exec, "MSFT") == 10 && quantity_of(*agent, "MSFT") == 10; },
                 std::chrono::seconds(30)))
      << exec->get("/positions").body << agent->get("/positions").body;
  EXPECT_TRUE(eventually([&] {
    return exec->log().find(R"("event":"fill_duplicate")") != std::string::npos;
  })) << exec->log();
  EXPECT_TRUE(eventually([&] {
    return agent->log().find(R"("event":"fill_duplicate")") != std::string::npos;
  })) << agent->log();
  EXPECT_EQ(quantity_of(*exec, "MSFT"), 10);
  EXPECT_EQ(quantity_of(*agent, "MSFT"), 10);
  bus->stop();
  for (auto *p : {gateway.get(), agent.get(), exec.get(), audit.get()})
    EXPECT_EQ(p->terminate(), 0) << p->log();
}
