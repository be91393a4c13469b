// Issue 13 finding 9 and 15 (portfolio): positions, average prices and realized PnL survive
// restarts of a real tradehost (clean and kill -9), rebuilt from data_dir/portfolio/fills.jsonl,
// and the risk chain's max_position holds across them.
#include "host_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <sstream>

using nlohmann::json;
using th::test::eventually;
using th::test::HostOptions;
using th::test::HostProcess;

namespace {

// configs/dev.yaml with the risk chain's max_position at `cap` and momentum's own cap out of the
// way, so that only risk-limits stands between the strategy and the limit.
std::string capped_config(int cap) {
  std::ifstream in(std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto replace = [&](const std::string &from, const std::string &to) {
    size_t pos = text.find(from);
    if (pos == std::string::npos)
      throw std::runtime_error("dev.yaml changed: no '" + from + "'");
    text.replace(pos, from.size(), to);
  };
  replace("        max_position: 1000\n", "        max_position: 1000000\n"); // momentum's (first)
  replace("      max_position: 1000\n", "      max_position: " + std::to_string(cap) + "\n"); // risk-limits'
  std::string file = th::test::make_temp_dir("tradehost-state") + "/capped.yaml";
  std::ofstream(file) << text;
  return file;
}

std::string buy(double price) {
  return json{{"instrument", "AAPL"}, {"price", price}, {"signal", "buy"}, {"strength", 0.9}}.dump();
}

json positions(HostProcess &host) {
  auto r = host.get("/positions");
  EXPECT_EQ(r.status, 200) << r.body;
  return json::parse(r.body, nullptr, false);
}

double quantity_of(HostProcess &host, const std::string &agent, const std::string &instrument) {
  auto body = positions(host);
  if (!body.is_object())
    return 0;
  for (auto &p : body["positions"])
    if (p["agent_id"] == agent && p["instrument"] == instrument)
      return p["quantity"].get<double>();
  return 0;
}

// What a restart must keep of each book (last_price and unrealized follow the next prices).
std::map<std::string, json> books(HostProcess &host) {
  std::map<std::string, json> out;
  json body = positions(host);
  for (auto &p : body["positions"])
    out[p["agent_id"].get<std::string>() + "/" + p["instrument"].get<std::string>()] = {
        {"quantity", p["quantity"]},
        {"avg_entry_price", p["avg_entry_price"]},
        {"realized_pnl", p["realized_pnl"]},
        {"realized_pnl_today", p["realized_pnl_today"]}};
  return out;
}

// fill_received rows of the trail in chain order: (agent/instrument, signed quantity).
std::vector<std::pair<std::string, double>> trail_fills(const HostProcess &host) {
  auto [code, out] = host.tradehost("audit export " + host.audit_db());
  EXPECT_EQ(code, 0) << out;
  std::vector<std::pair<std::string, double>> fills;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto row = json::parse(line, nullptr, false);
    if (!row.is_object() || row.value("event_type", "") != "fill_received")
      continue;
    json data =
        row["data"].is_string() ? json::parse(row["data"].get<std::string>(), nullptr, false) : row["data"];
    double q = data.value("quantity_filled", 0.0);
    fills.emplace_back(data.value("agent_id", "") + "/" + data.value("instrument", ""),
                       data.value("side", "") == "sell" ? -q : q);
  }
  return fills;
}

} // namespace

TEST(StateRestart, PositionsAndPnlAreTheSameAfterACleanRestartAndAfterKill9) {
  HostProcess host;
  host.start();
  // Buys and sells so that the book has an average price and realized PnL.
  const char *bodies[] = {
      R"({"instrument":"AAPL","price":150,"signal":"buy","strength":0.9})",
      R"({"instrument":"AAPL","price":151,"signal":"buy","strength":0.9})",
      R"({"instrument":"AAPL","price":153,"signal":"sell","strength":0.9})",
      R"({"instrument":"MSFT","price":400,"signal":"buy","strength":0.9})",
  };
  for (auto *b : bodies)
    ASSERT_EQ(host.post_webhook(b).status, 200);
  ASSERT_TRUE(eventually([&] { return quantity_of(host, "momentum_v1", "MSFT") == 100; }))
      << positions(host).dump();
  ASSERT_TRUE(eventually([&] { return quantity_of(host, "momentum_v1", "AAPL") == 100; }))
      << positions(host).dump();
  auto before = books(host);
  ASSERT_EQ(before.size(), 2u);
  EXPECT_NE(before["momentum_v1/AAPL"]["realized_pnl"].get<double>(), 0.0);

  ASSERT_EQ(host.terminate(), 0) << host.log();
  host.start();
  EXPECT_EQ(books(host), before) << "after a clean restart";
  EXPECT_EQ(positions(host)["source"], "portfolio");
  EXPECT_NE(host.log().find(R"("event":"portfolio_restored")"), std::string::npos) << host.log();

  host.kill();
  host.start();
  EXPECT_EQ(books(host), before) << "after kill -9";
  EXPECT_EQ(host.terminate(), 0) << host.log();
}

TEST(StateRestart, TheTrailsNetPositionNeverExceedsMaxPositionAcrossRestarts) {
  constexpr int cap = 300;
  HostOptions o;
  o.config = capped_config(cap);
  HostProcess host(o);
  host.start();
  double price = 100;
  int restarts = 0;
  for (int round = 0; round < 5; ++round) {
    // More buys than the cap allows in every round: without the restored position, each restart
    // would start from zero and let another `cap` through.
    for (int i = 0; i < 4; ++i) {
      double expected = std::min<double>(quantity_of(host, "momentum_v1", "AAPL") + 100, cap);
      ASSERT_EQ(host.post_webhook(buy(price += 0.5)).status, 200);
      EXPECT_TRUE(eventually([&] { return quantity_of(host, "momentum_v1", "AAPL") == expected; }))
          << positions(host).dump();
    }
    if (round % 2 == 0)
      ASSERT_EQ(host.terminate(), 0) << host.log();
    else
      host.kill();
    host.start();
    ++restarts;
    EXPECT_EQ(quantity_of(host, "momentum_v1", "AAPL"), cap) << "restart " << restarts;
  }
  ASSERT_EQ(host.terminate(), 0) << host.log();

  double net = 0, peak = 0;
  size_t fills = 0;
  for (auto &[book, q] : trail_fills(host)) {
    if (book != "momentum_v1/AAPL")
      continue;
    ++fills;
    net += q;
    peak = std::max(peak, std::abs(net));
  }
  EXPECT_EQ(fills, 3u) << "cap / base_quantity fills, the rest rejected";
  EXPECT_LE(peak, cap);
  EXPECT_EQ(net, cap);
  auto [code, out] = host.tradehost("audit verify " + host.audit_db());
  EXPECT_EQ(code, 0) << out;
}

// Finding 9, exec-sim: its working orders do not survive a restart, so a clean stop cancels each
// and records it (order_cancelled, EXEC-105) in the trail.
TEST(StateRestart, AStopRecordsACancelForEachProtectiveStopOfTheSimulator) {
  HostProcess host;
  host.start();
  std::vector<std::string> corr_ids;
  for (double price : {150.0, 151.0}) {
    auto r = host.post_webhook(buy(price));
    ASSERT_EQ(r.status, 200) << r.body;
    corr_ids.push_back(json::parse(r.body)["corr_id"]);
  }
  ASSERT_TRUE(eventually([&] { return quantity_of(host, "momentum_v1", "AAPL") == 200; }))
      << positions(host).dump();
  ASSERT_EQ(host.terminate(), 0) << host.log();

  auto [code, out] = host.tradehost("audit export " + host.audit_db());
  ASSERT_EQ(code, 0) << out;
  std::map<std::string, json> cancels; // corr_id -> data
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto row = json::parse(line, nullptr, false);
    if (row.is_object() && row.value("event_type", "") == "order_cancelled")
      cancels[row["correlation_id"]] =
          row["data"].is_string() ? json::parse(row["data"].get<std::string>()) : row["data"];
  }
  ASSERT_EQ(cancels.size(), 2u) << out;
  for (auto &c : corr_ids) {
    EXPECT_EQ(cancels[c]["code"], "EXEC-105") << c;
    EXPECT_EQ(cancels[c]["kind"], "protection") << c;
    EXPECT_EQ(cancels[c]["quantity"], 100) << c;
  }
  auto [vcode, vout] = host.tradehost("audit verify " + host.audit_db());
  EXPECT_EQ(vcode, 0) << vout;
}
