// Issue 13 findings 8 and 15 over real processes: a tradehost on JetStream whose risk rejects some
// intents (an order rate limit), with nats-server SIGKILLed and restarted while webhooks stream
// in. Signals, intents and fills in flight are redelivered; the trail must show each signal
// decided once, the same way (never order_rejected and fill_received for one corr_id), and the
// executor must have received each order once, with every approved order's fill in the trail.
#include "../support/nats_server.hpp"
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

// configs/jetstream.yaml, a strategy that trades every signal, a tight order rate limit (some
// intents are rejected, and a redelivered one would pass the then-empty window) and a short
// ack_wait so redeliveries come within seconds.
std::string redelivery_config() {
  std::ifstream in(std::string(TRADEHOST_SOURCE_DIR) + "/configs/jetstream.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto replace = [&](const std::string &from, const std::string &to) {
    size_t at = text.find(from);
    if (at == std::string::npos)
      throw std::runtime_error("configs/jetstream.yaml: '" + from + "' not found");
    text.replace(at, from.size(), to);
  };
  replace("ack_wait_s: 30", "ack_wait_s: 2");
  replace("lookback: 20", "lookback: 10000");
  replace("max_position: 1000\n        stop_loss: 0.02", "max_position: 100000000");
  replace("max_position: 1000\n", "max_position: 100000000\n");
  replace("max_orders_per_second: 100", "max_orders_per_second: 30");
  std::string file = th::test::make_temp_dir("tradehost-redelivery") + "/jetstream.yaml";
  std::ofstream(file) << text;
  return file;
}

struct Rows {
  std::map<std::string, std::multiset<std::string>> by_corr;
  std::set<std::string> sent_orders;
  size_t decisions = 0;
};

Rows trail(const HostProcess &host) {
  auto [code, out] = host.tradehost("audit export " + host.audit_db());
  Rows rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_object())
      continue;
    std::string type = j.value("event_type", "");
    rows.by_corr[j.value("correlation_id", "")].insert(type);
    rows.decisions += type == "decision_made";
    if (type == "order_sent")
      rows.sent_orders.insert(j.value("event_id", ""));
  }
  return rows;
}

// Sum of a counter's samples in the Prometheus text.
double metric_sum(const std::string &text, const std::string &name) {
  double total = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name, 0) == 0 && (line[name.size()] == '{' || line[name.size()] == ' '))
      total += std::stod(line.substr(line.rfind(' ') + 1));
  return total;
}

} // namespace

TEST(JetStreamRedelivery, ANatsKillNeitherDecidesASignalTwiceNorSendsAnOrderTwice) {
  th::test::NatsServer nats;
  HostOptions options;
  options.config = redelivery_config();
  options.env = {{"NATS_URL", nats.url()}};
  HostProcess host(options);
  host.start();

  std::vector<std::string> accepted;
  for (int i = 0; i < 120; ++i) {
    if (i == 60) {
      nats.stop(SIGKILL);
      nats.start();
    }
    auto r = host.post_webhook(json{
        {"instrument", "AAPL"},
        {"price", 100.0 + (i % 10)},
        {"signal", i % 2 ? "buy" : "sell"},
        {"strength", 0.9}}.dump());
    if (r.status == 200)
      accepted.push_back(json::parse(r.body)["corr_id"]);
    else
      EXPECT_EQ(r.status, 503) << r.body;
  }
  ASSERT_GE(accepted.size(), 60u);

  // Every accepted signal decided, every approved one filled.
  auto settled = [&](const Rows &rows) {
    for (const auto &c : accepted) {
      const auto &types = rows.by_corr.at(c);
      if (types.count("decision_made") + types.count("order_rejected") == 0)
        return false;
      if (types.count("decision_made") != types.count("fill_received"))
        return false;
    }
    return true;
  };
  ASSERT_TRUE(eventually(
      [&] {
        Rows rows = trail(host);
        for (const auto &c : accepted)
          if (!rows.by_corr.count(c))
            return false;
        return settled(rows);
      },
      std::chrono::seconds(90)))
      << host.log();

  Rows rows = trail(host);
  size_t rejected = 0, both = 0;
  for (const auto &c : accepted) {
    const auto &types = rows.by_corr[c];
    EXPECT_EQ(types.count("decision_made") + types.count("order_rejected"), 1u) << c << " decided twice";
    EXPECT_LE(types.count("fill_received"), 1u) << c << " filled twice";
    if (types.count("order_rejected") && types.count("fill_received")) {
      ++both;
      ADD_FAILURE() << c << ": order_rejected and fill_received (finding 8)";
    }
    rejected += types.count("order_rejected");
  }
  EXPECT_GT(rejected, 0u) << "the rate limit rejected nothing: the test proves nothing";
  EXPECT_GT(rows.decisions, 0u);

  // The executor received each order once: exec-sim counts every on_order_intent.
  std::string metrics = host.get("/metrics").body;
  const double handed = metric_sum(metrics, "exec_sim_orders_received_total");
  EXPECT_EQ(handed, static_cast<double>(rows.sent_orders.size())) << metrics;
  EXPECT_EQ(rows.sent_orders.size(), rows.decisions);

  std::string log = host.log();
  auto count = [&](const std::string &what) {
    size_t n = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1))
      ++n;
    return n;
  };
  std::printf("redelivery: %zu accepted, %zu rejected, %zu orders, %zu decisions reused, %zu orders "
              "resumed, %zu redelivered signals\n",
              accepted.size(), rejected, rows.sent_orders.size(), count("\"decisions_reused\""),
              count("\"order_already_sent\""), count("\"jetstream.effect_not_stored\""));
  EXPECT_EQ(host.terminate(), 0) << host.log();
  auto [code, out] = host.tradehost("audit verify " + host.audit_db());
  EXPECT_EQ(code, 0) << out;
}
