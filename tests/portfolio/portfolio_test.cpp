// th::Portfolio: average-cost accounting, fees, per-agent books, totals and the daily reset;
// idempotency on fill_id and the durable record a restart rebuilds the books from.
#include "portfolio/portfolio.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace {

constexpr int64_t t0 = 1736937000000000000; // 2025-01-15T10:30:00Z
constexpr int64_t one_day = 86'400'000'000'000;

th::Fill fill(int32_t side, double quantity, double price, std::string agent = "agent_a",
              std::string instrument = "AAPL", int64_t ts = t0) {
  static int n = 0;
  th::Fill f;
  f.corr_id = "corr_" + std::to_string(1000000 + n);
  f.parent_corr_id = "parent_0001";
  f.fill_id = "fill-" + std::to_string(++n);
  f.agent_id = std::move(agent);
  f.instrument = std::move(instrument);
  f.side = side;
  f.fill_status = TH_FILL_COMPLETE;
  f.quantity_filled = quantity;
  f.avg_fill_price = price;
  f.fill_timestamp_ns = ts;
  return f;
}
th::Fill buy(double q, double p, std::string agent = "agent_a") {
  return fill(TH_SIDE_BUY, q, p, std::move(agent));
}
th::Fill sell(double q, double p, std::string agent = "agent_a") {
  return fill(TH_SIDE_SELL, q, p, std::move(agent));
}

TEST(Portfolio, HandComputedSequenceCrossingToShort) {
  th::Portfolio p;

  // 1. buy 100 @ 150: long 100, avg 150, nothing realised; no mark, so unrealized uses the fill
  //    price: (150 - 150) * 100 = 0.
  auto f1 = buy(100, 150);
  auto r1 = p.apply(f1);
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->reconcile_id, "rec-" + f1.fill_id);
  EXPECT_EQ(r1->corr_id, f1.corr_id);
  EXPECT_EQ(r1->parent_corr_id, "parent_0001");
  EXPECT_EQ(r1->agent_id, "agent_a");
  EXPECT_EQ(r1->instrument, "AAPL");
  EXPECT_EQ(r1->reconcile_timestamp_ns, t0);
  EXPECT_DOUBLE_EQ(r1->position_delta, 100);
  EXPECT_DOUBLE_EQ(r1->new_position, 100);
  EXPECT_DOUBLE_EQ(r1->avg_entry_price, 150);
  EXPECT_DOUBLE_EQ(r1->realized_pnl, 0);
  EXPECT_DOUBLE_EQ(r1->unrealized_pnl, 0);

  // 2. buy 50 @ 152: long 150, avg (100*150 + 50*152) / 150 = 22600 / 150 = 150.666...;
  //    unrealized (152 - 150.666...) * 150 = 200.
  auto r2 = p.apply(buy(50, 152));
  EXPECT_DOUBLE_EQ(r2->position_delta, 50);
  EXPECT_DOUBLE_EQ(r2->new_position, 150);
  EXPECT_DOUBLE_EQ(r2->avg_entry_price, 22600.0 / 150);
  EXPECT_DOUBLE_EQ(r2->realized_pnl, 0);
  EXPECT_NEAR(r2->unrealized_pnl, 200, 1e-9);

  // 3. sell 120 @ 155: realises (155 - 150.666...) * 120 = 520; long 30 at the same avg;
  //    unrealized (155 - 150.666...) * 30 = 130.
  auto r3 = p.apply(sell(120, 155));
  EXPECT_DOUBLE_EQ(r3->position_delta, -120);
  EXPECT_DOUBLE_EQ(r3->new_position, 30);
  EXPECT_DOUBLE_EQ(r3->avg_entry_price, 22600.0 / 150);
  EXPECT_NEAR(r3->realized_pnl, 520, 1e-9);
  EXPECT_NEAR(r3->unrealized_pnl, 130, 1e-9);

  // 4. sell 60 @ 149: closes the 30 long, realising (149 - 150.666...) * 30 = -50 (cumulative
  //    520 - 50 = 470), and opens short 30 at 149; unrealized (149 - 149) * -30 = 0.
  auto r4 = p.apply(sell(60, 149));
  EXPECT_DOUBLE_EQ(r4->position_delta, -60);
  EXPECT_DOUBLE_EQ(r4->new_position, -30);
  EXPECT_DOUBLE_EQ(r4->avg_entry_price, 149);
  EXPECT_NEAR(r4->realized_pnl, 470, 1e-9);
  EXPECT_NEAR(r4->unrealized_pnl, 0, 1e-9);

  // A mark at 145 makes the short worth (145 - 149) * -30 = +120.
  p.mark("AAPL", 145);
  th_position pos = p.position("agent_a", "AAPL");
  EXPECT_DOUBLE_EQ(pos.quantity, -30);
  EXPECT_DOUBLE_EQ(pos.avg_entry_price, 149);
  EXPECT_NEAR(pos.realized_pnl, 470, 1e-9);
  EXPECT_NEAR(pos.unrealized_pnl, 120, 1e-9);
  EXPECT_DOUBLE_EQ(pos.last_price, 145);
  EXPECT_NEAR(pos.realized_pnl_today, 470, 1e-9);

  // 5. buy 30 @ 146 covers the short: realises (146 - 149) * 30 * -1 = +90 -> 560; flat, avg 0.
  auto r5 = p.apply(buy(30, 146));
  EXPECT_DOUBLE_EQ(r5->new_position, 0);
  EXPECT_DOUBLE_EQ(r5->avg_entry_price, 0);
  EXPECT_NEAR(r5->realized_pnl, 560, 1e-9);
  EXPECT_DOUBLE_EQ(r5->unrealized_pnl, 0);
}

TEST(Portfolio, FeesReduceRealizedPnl) {
  th::Portfolio p;
  auto f = buy(100, 10);
  f.fees = {0.5, 0.25, 0.05}; // 0.8 in total
  EXPECT_NEAR(p.apply(f)->realized_pnl, -0.8, 1e-12);
  auto g = sell(100, 11); // +100 realised, minus 1.0 of fees
  g.fees = {1.0, 0, 0};
  EXPECT_NEAR(p.apply(g)->realized_pnl, -0.8 + 100 - 1.0, 1e-9);
}

TEST(Portfolio, RejectedCancelledAndEmptyFillsChangeNothing) {
  th::Portfolio p;
  auto rejected = buy(100, 10);
  rejected.fill_status = TH_FILL_REJECTED;
  EXPECT_FALSE(p.apply(rejected));
  auto cancelled = buy(0, 0);
  cancelled.fill_status = TH_FILL_CANCELLED;
  EXPECT_FALSE(p.apply(cancelled));
  auto partial = buy(40, 10);
  partial.fill_status = TH_FILL_PARTIAL;
  EXPECT_DOUBLE_EQ(p.apply(partial)->new_position, 40);
  EXPECT_DOUBLE_EQ(p.position("agent_a", "AAPL").quantity, 40);
}

TEST(Portfolio, AgentsAreSeparateAndTotalsSumThem) {
  th::Portfolio p;
  p.apply(buy(100, 10, "agent_a"));
  p.apply(buy(50, 13, "agent_b"));
  p.apply(sell(50, 12, "agent_a")); // agent_a realises (12 - 10) * 50 = 100
  p.apply(fill(TH_SIDE_BUY, 10, 200, "agent_b", "MSFT"));
  p.mark("AAPL", 12);
  p.mark("MSFT", 210);

  th_position a = p.position("agent_a", "AAPL");
  EXPECT_DOUBLE_EQ(a.quantity, 50);
  EXPECT_DOUBLE_EQ(a.avg_entry_price, 10);
  EXPECT_DOUBLE_EQ(a.realized_pnl, 100);
  EXPECT_DOUBLE_EQ(a.unrealized_pnl, 100); // (12 - 10) * 50

  th_position b = p.position("agent_b", "AAPL");
  EXPECT_DOUBLE_EQ(b.quantity, 50);
  EXPECT_DOUBLE_EQ(b.avg_entry_price, 13);
  EXPECT_DOUBLE_EQ(b.unrealized_pnl, -50); // (12 - 13) * 50

  // Over agents: quantity 100, avg = net cost / net quantity = (500 + 650) / 100 = 11.5, so the
  // unrealized (12 - 11.5) * 100 = 50 equals the sum 100 - 50.
  th_position all = p.position("", "AAPL");
  EXPECT_DOUBLE_EQ(all.quantity, 100);
  EXPECT_DOUBLE_EQ(all.avg_entry_price, 11.5);
  EXPECT_DOUBLE_EQ(all.realized_pnl, 100);
  EXPECT_DOUBLE_EQ(all.unrealized_pnl, 50);
  EXPECT_DOUBLE_EQ(all.last_price, 12);

  // Over instruments: PnL summed, quantity/avg/last zero. agent_b: -50 + (210 - 200) * 10 = 50.
  th_position b_total = p.position("agent_b", "");
  EXPECT_DOUBLE_EQ(b_total.quantity, 0);
  EXPECT_DOUBLE_EQ(b_total.avg_entry_price, 0);
  EXPECT_DOUBLE_EQ(b_total.last_price, 0);
  EXPECT_DOUBLE_EQ(b_total.unrealized_pnl, 50);
  th_position everything = p.position("", "");
  EXPECT_DOUBLE_EQ(everything.realized_pnl, 100);
  EXPECT_DOUBLE_EQ(everything.unrealized_pnl, 150);

  th_position unknown = p.position("nobody", "AAPL");
  EXPECT_EQ(unknown.quantity, 0);
  EXPECT_EQ(unknown.realized_pnl, 0);

  auto snap = p.snapshot();
  ASSERT_EQ(snap["positions"].size(), 3u);
  EXPECT_EQ(snap["positions"][0]["agent_id"], "agent_a");
  EXPECT_EQ(snap["positions"][1]["agent_id"], "agent_b");
  EXPECT_EQ(snap["positions"][1]["instrument"], "AAPL");
  EXPECT_EQ(snap["positions"][2]["instrument"], "MSFT");
  EXPECT_DOUBLE_EQ(snap["positions"][2]["unrealized_pnl"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(snap["positions"][0]["realized_pnl"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(snap["positions"][0]["last_price"].get<double>(), 12);
}

TEST(Portfolio, UnrealizedUsesTheLastFillPriceUntilMarked) {
  th::Portfolio p;
  p.apply(buy(10, 100));
  auto r = p.apply(buy(10, 110)); // avg 105, last fill 110
  EXPECT_DOUBLE_EQ(r->unrealized_pnl, 100);
  EXPECT_DOUBLE_EQ(p.position("agent_a", "AAPL").last_price, 110);
  p.mark("AAPL", 90);
  EXPECT_DOUBLE_EQ(p.position("agent_a", "AAPL").unrealized_pnl, -300);
  EXPECT_DOUBLE_EQ(p.apply(buy(1, 120))->unrealized_pnl, (90 - (2100.0 + 120) / 21) * 21);
}

TEST(Portfolio, RealizedTodayResetsWhenTheUtcDayOfTheFillChanges) {
  th::Portfolio p;
  p.apply(fill(TH_SIDE_BUY, 10, 100, "agent_a", "AAPL", t0));
  p.apply(fill(TH_SIDE_SELL, 5, 90, "agent_a", "AAPL", t0 + 1)); // -50 today
  EXPECT_DOUBLE_EQ(p.position("agent_a", "AAPL").realized_pnl_today, -50);
  EXPECT_DOUBLE_EQ(p.position("agent_a", "AAPL", t0).realized_pnl_today, -50);
  // Asked on the next day with no fill yet: nothing realised today.
  EXPECT_DOUBLE_EQ(p.position("agent_a", "AAPL", t0 + one_day).realized_pnl_today, 0);
  // The first fill of the next day starts a new daily figure; the cumulative one keeps going.
  p.apply(fill(TH_SIDE_SELL, 5, 110, "agent_a", "AAPL", t0 + one_day)); // +50
  th_position pos = p.position("agent_a", "AAPL");
  EXPECT_DOUBLE_EQ(pos.realized_pnl_today, 50);
  EXPECT_DOUBLE_EQ(pos.realized_pnl, 0);
  EXPECT_DOUBLE_EQ(p.snapshot()["positions"][0]["realized_pnl_today"].get<double>(), 50);
}

} // namespace

// --- Idempotency on fill_id and the durable record (portfolio_store.hpp) ---

namespace {

std::string temp_record() {
  std::string pattern = (std::filesystem::temp_directory_path() / "portfolio-record-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp failed");
  return pattern + "/portfolio/fills.jsonl";
}

std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST(Portfolio, AFillIdIsAppliedOnce) {
  th::Portfolio p;
  auto f = buy(100, 10);
  EXPECT_EQ(p.record(f).kind, th::Portfolio::Outcome::applied);
  auto again = p.record(f);
  EXPECT_EQ(again.kind, th::Portfolio::Outcome::duplicate);
  EXPECT_FALSE(again.reconcile); // no record: nothing stored to publish again
  EXPECT_DOUBLE_EQ(p.position("agent_a", "AAPL").quantity, 100);
  EXPECT_EQ(p.duplicates(), 1u);
}

TEST(PortfolioRecord, ARestartRebuildsTheBooksAndRemembersFillIds) {
  std::string path = temp_record();
  auto f1 = buy(100, 150);
  auto f2 = sell(40, 155); // realises 5 * 40 = 200
  f2.fees = {1.0, 0, 0};
  nlohmann::json before;
  {
    th::Portfolio p;
    EXPECT_EQ(p.open_record(path).first, 0u);
    ASSERT_TRUE(p.apply(f1));
    ASSERT_TRUE(p.apply(f2));
    before = p.snapshot();
  }
  th::Portfolio p;
  auto [fills, torn] = p.open_record(path);
  EXPECT_EQ(fills, 2u);
  EXPECT_EQ(torn, 0u);
  EXPECT_EQ(p.snapshot(), before);
  th_position pos = p.position("agent_a", "AAPL", t0);
  EXPECT_DOUBLE_EQ(pos.quantity, 60);
  EXPECT_DOUBLE_EQ(pos.avg_entry_price, 150);
  EXPECT_DOUBLE_EQ(pos.realized_pnl_today, 199); // the daily loss limit reads it after a restart
  // A fill redelivered after the restart is applied once, and its stored reconcile comes back.
  auto again = p.record(f2);
  EXPECT_EQ(again.kind, th::Portfolio::Outcome::duplicate);
  ASSERT_TRUE(again.reconcile);
  EXPECT_EQ(again.reconcile->reconcile_id, "rec-" + f2.fill_id);
  EXPECT_DOUBLE_EQ(again.reconcile->new_position, 60);
  EXPECT_DOUBLE_EQ(p.position("agent_a", "AAPL").quantity, 60);
}

TEST(PortfolioRecord, ATornLastLineIsCutOffAndTheNextFillStartsClean) {
  std::string path = temp_record();
  {
    th::Portfolio p;
    p.open_record(path);
    p.apply(buy(100, 10));
  }
  std::string whole = read_file(path);
  { std::ofstream(path, std::ios::app) << R"({"fill":{"corr_id":"corr_torn)"; } // kill -9 inside write()
  {
    th::Portfolio p;
    auto [fills, torn] = p.open_record(path);
    EXPECT_EQ(fills, 1u);
    EXPECT_GT(torn, 0u);
    EXPECT_EQ(read_file(path), whole);
    p.apply(buy(50, 12));
  }
  th::Portfolio p;
  EXPECT_EQ(p.open_record(path).first, 2u);
  EXPECT_DOUBLE_EQ(p.position("agent_a", "AAPL").quantity, 150);
}

TEST(PortfolioRecord, ADamagedLineBeforeTheLastRefusesToStart) {
  std::string path = temp_record();
  {
    th::Portfolio p;
    p.open_record(path);
    p.apply(buy(100, 10));
  }
  std::string text = read_file(path);
  std::ofstream(path, std::ios::trunc) << "garbage\n" << text;
  th::Portfolio p;
  try {
    p.open_record(path);
    FAIL() << "a damaged record was accepted";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find(":1: not a stored fill"), std::string::npos) << e.what();
  }
}

TEST(PortfolioRecord, ASecondOwnerOfTheSameFileIsRefused) {
  std::string path = temp_record();
  th::Portfolio first;
  first.open_record(path);
  th::Portfolio second;
  EXPECT_THROW(second.open_record(path), std::runtime_error);
}
