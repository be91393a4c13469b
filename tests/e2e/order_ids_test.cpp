// Issue 13 finding 5 and issue 16 "order ids": two agents trading on one signal each get their own
// order id, fills and audit rows. The real tradehost binary, configs/dev.yaml plus a second
// momentum agent.
#include "host_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

using nlohmann::json;
using th::test::HostProcess;

namespace {

std::string read_file(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// configs/dev.yaml with a second momentum agent (the same params) next to momentum_v1.
std::string two_agent_config(const std::string &dir) {
  std::string yaml = read_file(std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml");
  const std::string risk = "\nrisk:\n";
  auto at = yaml.find(risk);
  EXPECT_NE(at, std::string::npos);
  yaml.insert(at + 1,
              "  - id: momentum_v2\n"
              "    strategy:\n"
              "      plugin: momentum\n"
              "      params: {lookback: 20, min_strength: 0.6, base_quantity: 50, max_position: 1000}\n"
              "\n");
  // The agents section ends where the risk section begins: the inserted agent joins it.
  std::string path = dir + "/two-agents.yaml";
  std::ofstream(path) << yaml;
  return path;
}

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

json data_of(const json &row) {
  return row["data"].is_string() ? json::parse(row["data"].get<std::string>(), nullptr, false) : row["data"];
}

} // namespace

TEST(OrderIds, TwoAgentsOneReplayedSignalKeepEveryAuditRow) {
  HostProcess host;
  const std::string config = two_agent_config(host.data_dir());
  const std::string signals = host.data_dir() + "/one.jsonl";
  std::ofstream(signals) << R"({"corr_id":"replay_000001","instrument":"AAPL","signal":"buy","strength":0.9,)"
                         << R"("price":150.25,"timestamp":"2025-01-15T10:30:00Z"})"
                         << "\n";
  auto [code, out] = host.tradehost("replay -c " + config + " " + signals + " --json");
  ASSERT_EQ(code, 0) << out;
  // The summary is the pretty-printed object after the log lines.
  const size_t at = out.rfind("\n{\n");
  auto summary = json::parse(at == std::string::npos ? out : out.substr(at + 1), nullptr, false);
  ASSERT_TRUE(summary.is_object()) << out;
  EXPECT_EQ(summary["fills"], 2) << out;

  std::map<std::string, std::vector<json>> by_type;
  for (auto &row : export_audit(host))
    by_type[row["event_type"].get<std::string>()].push_back(row);
  ASSERT_EQ(by_type["decision_made"].size(), 2u);
  ASSERT_EQ(by_type["order_sent"].size(), 2u);
  ASSERT_EQ(by_type["fill_received"].size(), 2u) << "one agent's fill row vanished (finding 5)";
  ASSERT_EQ(by_type["position_updated"].size(), 2u);

  // The order ids are the host's "{corr_id}.{agent_id}.{n}", carried from the decision to the fill.
  std::set<std::string> decided, sent, filled, fill_ids;
  for (auto &row : by_type["decision_made"]) {
    json d = data_of(row);
    decided.insert(d["order_id"].get<std::string>());
    EXPECT_EQ(row["event_id"],
              "decision_made:replay_000001:decision:" + d["agent_id"].get<std::string>() + ":1");
  }
  for (auto &row : by_type["order_sent"]) {
    sent.insert(data_of(row)["order_id"].get<std::string>());
    EXPECT_EQ(row["event_id"], "order_sent:" + data_of(row)["order_id"].get<std::string>());
  }
  for (auto &row : by_type["fill_received"]) {
    json d = data_of(row);
    filled.insert(d["order_id"].get<std::string>());
    fill_ids.insert(d["fill_id"].get<std::string>());
  }
  const std::set<std::string> expected{"replay_000001.momentum_v1.1", "replay_000001.momentum_v2.1"};
  EXPECT_EQ(decided, expected);
  EXPECT_EQ(sent, expected);
  EXPECT_EQ(filled, expected);
  EXPECT_EQ(fill_ids, (std::set<std::string>{"sim-replay_000001.momentum_v1.1-1",
                                             "sim-replay_000001.momentum_v2.1-1"}));

  // Deterministic: the same signal replayed again into the same trail adds no row.
  auto [again, again_out] = host.tradehost("replay -c " + config + " " + signals + " --json");
  ASSERT_EQ(again, 0) << again_out;
  size_t fills_after = 0;
  for (auto &row : export_audit(host))
    fills_after += row["event_type"] == "fill_received";
  EXPECT_EQ(fills_after, 2u);
}
