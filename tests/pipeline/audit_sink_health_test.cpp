// Issue 13 findings 4 and 7 at the audit stage, with real sink plugins and real faults:
// - a 1.0 sink (built against the frozen header) that cannot write makes the stage unavailable,
//   its event is held and retried in order, and the stage is available again once it stores;
// - audit-sqlite (ABI 1.1) reports what is durable: a delivery is settled only after its commit,
//   and a database locked by another connection past busy_timeout_ms is reported unavailable,
//   with the delivery held until the lock goes and the commit succeeds.
#include "bus/embedded_bus.hpp"
#include "loader/plugin_registry.hpp"
#include "pipeline/audit_stage.hpp"

#include "../support/child_process.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace th {
namespace {

using test::eventually;

struct TempDir {
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tradehost-sinkhealth-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
      throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string operator/(const std::string &name) const { return path + "/" + name; }
  std::string path;
};

Message signal_message(const std::string &corr_id) {
  Signal s;
  s.corr_id = corr_id;
  s.instrument = "AAPL";
  s.action = TH_SIGNAL_BUY;
  s.strength = 0.8;
  s.timestamp_ns = 1736937001250000000;
  s.received_ns = 1736937001262000000;
  return Message{Subject::signals_normalized, s, s.corr_id + ":signal"};
}

std::string metric_line(Metrics &metrics, const std::string &prefix) {
  std::istringstream in(metrics.serialize());
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0)
      return line;
  return "";
}

std::string read_file(const std::string &path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// What a bus that acknowledges sees of a deferred delivery.
struct RecordedSettlement : Settlement {
  std::atomic<int> outcome{-1}; // -1 not settled, 0 failed, 1 stored
  void stored(bool ok) override {
    int unset = -1;
    outcome.compare_exchange_strong(unset, ok ? 1 : 0);
  }
};

class SinkHealth : public ::testing::Test {
protected:
  std::unique_ptr<PluginInstance> sink(const char *so, const std::string &id, const nlohmann::json &params) {
    auto library = registry.add(std::filesystem::path(so));
    EXPECT_TRUE(library) << (registry.refusals().empty() ? "" : registry.refusals().back().reason);
    return PluginInstance::create(library, {id, "", "", TH_KIND_AUDIT_SINK}, params.dump(), stage);
  }

  TempDir dir;
  PluginRegistry registry;
  std::unique_ptr<Bus> bus = make_embedded_bus();
  Metrics metrics;
  Portfolio portfolio;
  Clock clock;
  AuditStage stage{{*bus, metrics, portfolio, clock}};
};

TEST_F(SinkHealth, AV1_0SinkThatCannotWriteIsHeldAndRetriedAndTheStageFailsClosedMeanwhile) {
  const std::string log = dir / "events.log", fail = dir / "FAIL";
  auto instance = sink(FLAKY_SINK_V1_0, "flaky", {{"log", log}, {"fail_file", fail}});
  ASSERT_EQ(instance->library().identity().abi_minor, 0);
  EXPECT_FALSE(instance->reports_durable());
  stage.add_sink(std::move(instance));
  ASSERT_EQ(stage.instances().front()->start(), TH_OK);
  EXPECT_EQ(metric_line(metrics, "audit_sink_available{sink=\"flaky\"}"),
            "audit_sink_available{sink=\"flaky\"} 1");

  stage.handle(signal_message("sinkhealth_000000001"));
  EXPECT_TRUE(stage.available());

  std::ofstream(fail) << "x";
  std::thread handler([&] { stage.handle(signal_message("sinkhealth_000000002")); });
  ASSERT_TRUE(eventually([&] { return !stage.available(); }));
  EXPECT_NE(stage.unavailable_reason().find("audit sink 'flaky' unavailable: cannot write now"),
            std::string::npos)
      << stage.unavailable_reason();
  EXPECT_EQ(metric_line(metrics, "audit_sink_available{sink=\"flaky\"}"),
            "audit_sink_available{sink=\"flaky\"} 0");
  std::filesystem::remove(fail);
  handler.join(); // returns only once the held event is stored
  EXPECT_TRUE(stage.available());
  EXPECT_EQ(metric_line(metrics, "audit_sink_available{sink=\"flaky\"}"),
            "audit_sink_available{sink=\"flaky\"} 1");
  EXPECT_EQ(read_file(log), "webhook_received:sinkhealth_000000001\nsignal_published:sinkhealth_000000001\n"
                            "webhook_received:sinkhealth_000000002\nsignal_published:sinkhealth_000000002\n");

  // An event the sink calls invalid can never be stored: skipped, and no outage.
  AuditRecord poison{"poison:1", "sinkhealth_000000003", "poison", 1, "test", "{}"};
  stage.handle(Message{Subject::audit_event, poison, poison.event_id});
  EXPECT_TRUE(stage.available());
  EXPECT_EQ(read_file(log).find("poison"), std::string::npos);
}

TEST_F(SinkHealth, AuditSqliteSettlesADeliveryOnlyOnceCommittedAndHoldsItWhileTheDatabaseIsLocked) {
  const std::string db = dir / "audit.db";
  auto instance =
      sink(AUDIT_SQLITE_SO, "trail", {{"path", db}, {"busy_timeout_ms", 100}, {"retry_max_ms", 50}});
  EXPECT_TRUE(instance->reports_durable());
  stage.add_sink(std::move(instance));
  ASSERT_EQ(stage.instances().front()->start(), TH_OK);

  auto deliver = [&](const Message &m) {
    auto settlement = std::make_shared<RecordedSettlement>();
    stage.handle(Delivery(m, false, [settlement] { return settlement; }));
    return settlement;
  };
  auto first = deliver(signal_message("sinkhealth_000000011"));
  ASSERT_TRUE(eventually([&] { return first->outcome == 1; }));
  EXPECT_TRUE(stage.available());

  // Another connection holds the write lock: the writer's transaction waits busy_timeout_ms,
  // fails, and the sink says it cannot write.
  sqlite3 *locker = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &locker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(locker, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto held = deliver(signal_message("sinkhealth_000000012"));
  ASSERT_TRUE(eventually([&] { return !stage.available(); }));
  EXPECT_NE(stage.unavailable_reason().find("audit sink 'trail' unavailable"), std::string::npos);
  EXPECT_NE(stage.unavailable_reason().find("locked"), std::string::npos) << stage.unavailable_reason();
  EXPECT_EQ(held->outcome, -1) << "acknowledged before it was stored";
  EXPECT_EQ(metric_line(metrics, "audit_sink_available{sink=\"trail\"}"),
            "audit_sink_available{sink=\"trail\"} 0");

  ASSERT_EQ(sqlite3_exec(locker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(locker);
  ASSERT_TRUE(eventually([&] { return held->outcome == 1; }));
  EXPECT_TRUE(eventually([&] { return stage.available(); }));
  ASSERT_EQ(stage.instances().front()->stop(), TH_OK);

  sqlite3 *reader = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt *count = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(reader,
                               "SELECT count(*) FROM events WHERE correlation_id = 'sinkhealth_000000012'",
                               -1, &count, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(count, 0), 2); // webhook_received and signal_published, once each
  sqlite3_finalize(count);
  sqlite3_close(reader);
}

} // namespace
} // namespace th
