// `tradehost trace`, `tradehost tail` and the filters of `tradehost audit export`, run as a user
// runs them (audit_cli_driver runs the host's own command functions) over a chain of sample rows:
// positions 1-6 are tv_100000000, 7-10 tv_100000001, event types cycling webhook_received,
// signal_published, decision_made, order_sent, fill_received, position_updated.
#include "cli_runner.hpp"
#include "sample_events.hpp"
#include "test_dir.hpp"

#include <audit_chain/appender.hpp>
#include <audit_chain/canonical_json.hpp>
#include <audit_chain/timestamp.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>

namespace th::audit {
namespace {

using audit_test::cli;
using audit_test::CliResult;

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

void append_samples(const std::string &db, uint64_t from, uint64_t to) {
  Appender a(db, {});
  std::vector<PendingEvent> events;
  for (uint64_t i = from; i < to; ++i) {
    auto e = audit_test::sample_event("view", i);
    events.push_back({e.event_id, e.correlation_id, e.event_type, rfc3339_ms(e.timestamp_ns), e.service,
                      canonicalize(e.data_json)});
  }
  a.append(events.data(), events.size(), nullptr);
}

class TrailView : public ::testing::Test {
protected:
  void SetUp() override { append_samples(db, 0, 10); }
  audit_test::TempDir dir;
  std::string db = dir / "chain.db";
};

TEST_F(TrailView, TraceTellsOneSignalsStoryInChainOrderWithDeltas) {
  CliResult r = cli("trace tv_100000000 --db " + db);
  ASSERT_EQ(r.code, 0) << r.out;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 7u) << r.out;
  EXPECT_EQ(lines[0], "trace tv_100000000: 6 events over 6 ms (chain positions 1-6)");
  const char *order[] = {"webhook_received", "signal_published", "decision_made",
                         "order_sent",       "fill_received",    "position_updated"};
  for (size_t i = 0; i < 6; ++i)
    EXPECT_NE(lines[i + 1].find(order[i]), std::string::npos) << lines[i + 1];
  EXPECT_NE(lines[1].find("+     0 ms"), std::string::npos) << lines[1];
  EXPECT_NE(lines[6].find("+     6 ms"), std::string::npos) << lines[6]; // 5 x 1.25 ms, floored
  EXPECT_NE(lines[5].find("instrument=AAPL side=buy"), std::string::npos) << lines[5];

  CliResult json = cli("trace tv_100000001 --json --db " + db);
  ASSERT_EQ(json.code, 0);
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["correlation_id"], "tv_100000001");
  ASSERT_EQ(j["events"].size(), 4u);
  EXPECT_EQ(j["events"][0]["chain_position"], 7);
  EXPECT_EQ(j["events"][0]["delta_ms"], 0);
  EXPECT_EQ(j["events"][3]["delta_ms"], 4); // stored at ...00.007Z and ...00.011Z (floored to the ms)
  EXPECT_EQ(j["events"][3]["data"]["instrument"], "AAPL");

  EXPECT_EQ(cli("trace tv_999 --db " + db).code, 1) << "no row: exit 1";
  EXPECT_EQ(cli("trace --db " + db).code, 2);
  EXPECT_EQ(cli("trace tv_100000000 --db " + (dir / "missing.db")).code, 2);
}

TEST_F(TrailView, TailPrintsTheLastRowsOneLineEachAndFilters) {
  auto last = lines_of(cli("tail --db " + db + " --last 3").out);
  ASSERT_EQ(last.size(), 3u);
  EXPECT_EQ(last[0].rfind("      8 ", 0), 0u) << last[0];
  EXPECT_EQ(last[2].rfind("     10 ", 0), 0u) << last[2];
  EXPECT_EQ(lines_of(cli("tail --db " + db).out).size(), 10u) << "10 rows by default, all of them here";

  auto fills = lines_of(cli("tail --db " + db + " --type fill_received").out);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_NE(fills[0].find("fill_received"), std::string::npos);
  EXPECT_NE(fills[0].find("fill_id=F-4"), std::string::npos) << fills[0];
  // Position 4 (an order_sent) has data without an instrument: only position 10 matches both.
  auto orders = lines_of(cli("tail --db " + db + " --type order_sent,decision_made --instrument AAPL").out);
  ASSERT_EQ(orders.size(), 3u);
  EXPECT_EQ(orders[0].rfind("      3 ", 0), 0u) << orders[0];
  EXPECT_EQ(orders[2].rfind("     10 ", 0), 0u) << orders[2];
  EXPECT_TRUE(cli("tail --db " + db + " --instrument MSFT").out.empty());
  EXPECT_EQ(cli("tail --db " + db + " --last x").code, 2);
}

TEST_F(TrailView, ExportTakesTheSameFilters) {
  auto rows = lines_of(cli("export " + db + " --type decision_made --last 1").out);
  ASSERT_EQ(rows.size(), 1u);
  auto j = nlohmann::json::parse(rows[0]);
  EXPECT_EQ(j["chain_position"], 9);
  EXPECT_EQ(j["event_type"], "decision_made");
  EXPECT_EQ(lines_of(cli("export " + db + " --from 2 --to 9 --type signal_published").out).size(), 2u);
}

// -f: rows appended after the start are printed as they arrive; SIGTERM ends it with exit 0.
TEST_F(TrailView, TailFollowsTheTrailAsItGrows) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<std::string> args = {AUDIT_CLI, "tail", "--db", db, "-f", "--type", "fill_received"};
  std::vector<char *> argv;
  for (auto &a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child = -1;
  ASSERT_EQ(posix_spawn(&child, AUDIT_CLI, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);

  std::string seen;
  auto read_until = [&](const std::string &wanted) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (seen.find(wanted) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char buf[4096];
        ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n <= 0)
          break;
        seen.append(buf, static_cast<size_t>(n));
      }
    }
    return seen.find(wanted) != std::string::npos;
  };
  EXPECT_TRUE(read_until("fill_id=F-4")) << seen;
  append_samples(db, 10, 17); // positions 11 and 17 are fills
  EXPECT_TRUE(read_until("fill_id=F-16")) << seen;
  auto lines = lines_of(seen);
  ASSERT_EQ(lines.size(), 3u) << seen;
  EXPECT_EQ(lines[1].rfind("     11 ", 0), 0u) << seen;
  ::kill(child, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ::close(out[0]);
}

} // namespace
} // namespace th::audit
