// The audit-sqlite plugin's background WAL checkpointer, on a real database: the writer's own
// auto-checkpoint is replaced, the thread copies the WAL into the database once it reaches the
// threshold, and the chain read back afterwards is intact.
#include "sample_events.hpp"
#include "test_dir.hpp"
#include "wal_checkpointer.hpp"

#include <audit_chain/appender.hpp>
#include <audit_chain/canonical_json.hpp>
#include <audit_chain/timestamp.hpp>
#include <audit_chain/verify.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

namespace th::audit {
namespace {

std::vector<PendingEvent> pending_events(size_t from, size_t count) {
  std::vector<PendingEvent> events;
  for (size_t i = from; i < from + count; ++i) {
    auto s = audit_test::sample_event("ckpt", i);
    events.push_back({s.event_id, s.correlation_id, s.event_type, rfc3339_ms(s.timestamp_ns), s.service,
                      canonicalize(s.data_json)});
  }
  return events;
}

// Runs a passive checkpoint on `db`: (frames in the WAL, frames now copied into the database).
std::pair<int, int> wal_state(Database &db) {
  int log = -1, done = -1;
  sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  return {log, done};
}

TEST(WalCheckpointer, CopiesTheWalInTheBackgroundOnceItReachesTheThreshold) {
  audit_test::TempDir dir;
  const std::string path = dir / "audit.db";
  Appender appender(path, {});
  std::vector<std::string> problems;
  WalCheckpointer checkpointer(appender.database(), Synchronous::normal, 8,
                               [&](const std::string &p) { problems.push_back(p); });
  const auto database_size = [&] { return std::filesystem::file_size(path); };
  const auto size_before = database_size();

  // Well past 8 pages of WAL (16 KiB pages), in several commits.
  for (size_t batch = 0; batch < 10; ++batch) {
    auto events = pending_events(batch * 100, 100);
    ASSERT_EQ(appender.append(events), 100u);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (checkpointer.checkpoints() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(checkpointer.checkpoints(), 1u);
  // Pages reached the database file itself, which the writer never checkpoints on its own now.
  EXPECT_GT(database_size(), size_before);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(appender.head().chain_position, 1000u);
}

TEST(WalCheckpointer, TheWritersConnectionNoLongerAutoCheckpoints) {
  audit_test::TempDir dir;
  const std::string path = dir / "audit.db";
  Appender appender(path, {});
  // A threshold far above what is written: no background checkpoint is due...
  WalCheckpointer checkpointer(appender.database(), Synchronous::normal, 1 << 20, nullptr);
  // Small commits, each adding a few frames: well over SQLite's 1000-page auto-checkpoint.
  for (size_t batch = 0; batch < 600; ++batch) {
    auto events = pending_events(batch * 2, 2);
    appender.append(events);
  }
  EXPECT_EQ(checkpointer.checkpoints(), 0u);
  // ...and SQLite's own auto-checkpoint did not run either (it would have restarted the WAL):
  // every frame is still in the WAL until this explicit checkpoint copies them.
  auto [log, done] = wal_state(appender.database());
  EXPECT_GT(log, 1000);
  EXPECT_EQ(done, log);
}

TEST(WalCheckpointer, ChainIsIntactAfterBackgroundCheckpointsAndClose) {
  audit_test::TempDir dir;
  const std::string path = dir / "audit.db";
  {
    Appender appender(path, {});
    WalCheckpointer checkpointer(appender.database(), Synchronous::normal, 4, nullptr);
    for (size_t batch = 0; batch < 30; ++batch) {
      auto events = pending_events(batch * 50, 50);
      appender.append(events);
      auto again = pending_events(batch * 50, 50); // redelivered: stored once
      EXPECT_EQ(appender.append(again), 0u);
    }
  }
  EXPECT_FALSE(std::filesystem::exists(path + "-wal")); // closing the last connection checkpointed it away
  auto report = verify(path, {});
  EXPECT_TRUE(report.ok()) << report.first_problem->detail;
  EXPECT_EQ(report.rows, 1500u);
}

} // namespace
} // namespace th::audit
