// Replays tests/pipeline/signals.jsonl through tests/pipeline/replay.yaml (momentum lookback 3,
// max_position 150, stop_loss 5%; risk denies TSLA; simulator without slippage or fees) and
// checks every intent, rejection, fill and the final position, worked out by hand:
//
//  01 AAPL buy 0.8 @100  warm-up: follows -> buy 100, fills @100, stop 95 for 100
//  02 AAPL buy 0.5 @101  below min_strength -> skip
//  03 AAPL buy 0.9 @99   SMA(100,101,99)=100 > 99 -> skip
//  04 AAPL buy 0.9 @105  SMA(101,99,105)=101.67 <= 105 -> buy min(100,150-100)=50, fills @105, stop 99.75
//  05 AAPL buy 0.9 @106  position 150 = max_position -> skip
//  06 TSLA buy 0.9 @200  warm-up -> buy 100 -> risk: instrument_denied
//  07 AAPL sell 0.9 @97  the 99.75 stop triggers first (sell 50 @97, parent scenario_04); then
//                        SMA(105,106,97)=102.67 >= 97 -> sell min(100,150+150)=100 @97
//  08 AAPL close @98     position 0 -> nothing
//  09 MSFT buy           not in the agent's instruments -> nothing
// Final AAPL position 0; realized (97-101.667)*50 + (97-101.667)*100 = -700.
#include "../support/child_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using nlohmann::json;

namespace {

struct Replay {
  json summary;
  std::vector<json> intents, rejections, fills, reconciles;
  std::string data_dir;
};

Replay run_replay() {
  char pattern[] = "/tmp/tradehost-replay-XXXXXX";
  Replay r;
  r.data_dir = ::mkdtemp(pattern);
  std::string dir = TRADEHOST_TEST_DATA_DIR;
  auto [code, out] = th::test::run_command("TRADEHOST_DATA_DIR=" + r.data_dir +
                                           " TRADEHOST_PLUGIN_DIR=" + TRADEHOST_PLUGIN_BUILD_DIR + " " +
                                           TRADEHOST_BIN + " replay -c " + dir + "/replay.yaml " + dir +
                                           "/signals.jsonl --json --events " + r.data_dir + "/events.jsonl");
  EXPECT_EQ(code, 0) << out;
  r.summary = json::parse(out.substr(out.find("{\n")), nullptr, false);
  std::ifstream events(r.data_dir + "/events.jsonl");
  for (std::string line; std::getline(events, line);) {
    auto e = json::parse(line);
    std::string subject = e["subject"];
    if (subject == "decisions.order_intent")
      r.intents.push_back(e["payload"]);
    if (subject == "decisions.rejected")
      r.rejections.push_back(e["payload"]);
    if (subject == "executions.fill")
      r.fills.push_back(e["payload"]);
    if (subject == "executions.reconcile")
      r.reconciles.push_back(e["payload"]);
  }
  return r;
}

} // namespace

TEST(Replay, GivesExactlyTheExpectedIntentsRejectionsAndFills) {
  Replay r = run_replay();
  ASSERT_EQ(r.intents.size(), 3u);
  auto intent = [&](size_t i) {
    return std::make_tuple(r.intents[i]["corr_id"].get<std::string>(),
                           r.intents[i]["side"].get<std::string>(), r.intents[i]["quantity"].get<double>());
  };
  EXPECT_EQ(intent(0), std::make_tuple(std::string("scenario_01"), std::string("buy"), 100.0));
  EXPECT_EQ(intent(1), std::make_tuple(std::string("scenario_04"), std::string("buy"), 50.0));
  EXPECT_EQ(intent(2), std::make_tuple(std::string("scenario_07"), std::string("sell"), 100.0));
  for (auto &i : r.intents) {
    EXPECT_EQ(i["agent_id"], "mom");
    EXPECT_EQ(i["order_type"], "market");
    EXPECT_EQ(i["risk_params"]["stop_loss"], 0.05);
  }

  ASSERT_EQ(r.rejections.size(), 1u);
  EXPECT_EQ(r.rejections[0]["corr_id"], "scenario_06");
  EXPECT_EQ(r.rejections[0]["instrument"], "TSLA");
  EXPECT_EQ(r.rejections[0]["rule"], "instrument_denied");

  ASSERT_EQ(r.fills.size(), 4u);
  auto fill = [&](size_t i) {
    return std::make_tuple(r.fills[i]["corr_id"].get<std::string>(), r.fills[i]["side"].get<std::string>(),
                           r.fills[i]["quantity_filled"].get<double>(),
                           r.fills[i]["avg_fill_price"].get<double>(),
                           r.fills[i]["fill_status"].get<std::string>());
  };
  EXPECT_EQ(fill(0), std::make_tuple(std::string("scenario_01"), std::string("buy"), 100.0, 100.0,
                                     std::string("complete")));
  EXPECT_EQ(fill(1), std::make_tuple(std::string("scenario_04"), std::string("buy"), 50.0, 105.0,
                                     std::string("complete")));
  EXPECT_EQ(fill(2), std::make_tuple(std::string("scenario_04-sl"), std::string("sell"), 50.0, 97.0,
                                     std::string("complete")));
  EXPECT_EQ(r.fills[2]["parent_corr_id"], "scenario_04");
  EXPECT_EQ(fill(3), std::make_tuple(std::string("scenario_07"), std::string("sell"), 100.0, 97.0,
                                     std::string("complete")));
  for (auto &f : r.fills)
    EXPECT_EQ(f["execution_venue"], "simulator");

  ASSERT_EQ(r.reconciles.size(), 4u);
  EXPECT_EQ(r.reconciles[3]["new_position"], 0.0);
  EXPECT_NEAR(r.reconciles[3]["realized_pnl"].get<double>(), -700.0, 1e-6);

  ASSERT_TRUE(r.summary.is_object());
  EXPECT_EQ(r.summary["signals"], 9);
  EXPECT_EQ(r.summary["intents"], 3);
  EXPECT_EQ(r.summary["rejections"], 1);
  EXPECT_EQ(r.summary["fills"], 4);
  EXPECT_EQ(r.summary["drained"], true);
  std::filesystem::remove_all(r.data_dir);
}

TEST(Replay, TheAuditChainOfAReplayRecomputesIndependently) {
  Replay r = run_replay();
  auto [code, out] = th::test::run_command("python3 " + std::string(TRADEHOST_SOURCE_DIR) +
                                           "/tests/audit/recompute.py " + r.data_dir + "/audit.db");
  EXPECT_EQ(code, 0) << out;
  auto [vcode, vout] =
      th::test::run_command(std::string(TRADEHOST_BIN) + " audit verify " + r.data_dir + "/audit.db");
  EXPECT_EQ(vcode, 0) << vout;
  std::filesystem::remove_all(r.data_dir);
}

// The seed example through configs/dev.yaml: AAPL buy 0.8 at 150.25 on fresh state.
TEST(Replay, TheSeedExampleGivesTheSeedIntentAndACompleteFill) {
  char pattern[] = "/tmp/tradehost-seed-XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  std::ofstream(dir + "/seed.jsonl")
      << R"({"corr_id":"tradingview_seed0001","instrument":"AAPL","signal":"buy",)"
      << R"("strength":0.8,"price":150.25,"timestamp":"2025-01-15T10:30:01.250Z"})"
      << "\n";
  std::string env = "TRADEHOST_DATA_DIR=" + dir + " TRADEHOST_PLUGIN_DIR=" + TRADEHOST_PLUGIN_BUILD_DIR +
                    " TRADEHOST_LOG_LEVEL=error ";
  auto [kcode, kout] =
      th::test::run_command(env + TRADEHOST_BIN + " audit keygen --out " + dir + "/audit-signing");
  ASSERT_EQ(kcode, 0) << kout;
  auto [code, out] =
      th::test::run_command(env + TRADEHOST_BIN + " replay -c " + TRADEHOST_SOURCE_DIR +
                            "/configs/dev.yaml " + dir + "/seed.jsonl --events " + dir + "/ev.jsonl");
  ASSERT_EQ(code, 0) << out;
  std::ifstream events(dir + "/ev.jsonl");
  json intent, fill;
  for (std::string line; std::getline(events, line);) {
    auto e = json::parse(line);
    if (e["subject"] == "decisions.order_intent")
      intent = e["payload"];
    if (e["subject"] == "executions.fill")
      fill = e["payload"];
  }
  ASSERT_TRUE(intent.is_object());
  EXPECT_EQ(intent["corr_id"], "tradingview_seed0001");
  EXPECT_EQ(intent["agent_id"], "momentum_v1");
  EXPECT_EQ(intent["side"], "buy");
  EXPECT_EQ(intent["quantity"], 100.0);
  EXPECT_EQ(intent["order_type"], "market");
  EXPECT_EQ(intent["risk_params"]["max_position"], 1000.0);
  EXPECT_EQ(intent["risk_params"]["stop_loss"], 0.02);
  ASSERT_TRUE(fill.is_object());
  EXPECT_EQ(fill["fill_status"], "complete");
  EXPECT_EQ(fill["quantity_filled"], 100.0);
  EXPECT_EQ(fill["execution_venue"], "simulator");
  // dev.yaml's simulator slips by at most 2 bps, against the buyer.
  EXPECT_GE(fill["avg_fill_price"].get<double>(), 150.25);
  EXPECT_LE(fill["avg_fill_price"].get<double>(), 150.25 * (1 + 2e-4));
  std::filesystem::remove_all(dir);
}
