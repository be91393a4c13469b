// The audit-sqlite plugin through the real C ABI (dlopen + the recording host).
#include "plugin_harness.hpp"
#include "sample_events.hpp"
#include "test_dir.hpp"

#include <audit_chain/checkpoint.hpp>
#include <audit_chain/head.hpp>
#include <audit_chain/sqlite.hpp>
#include <audit_chain/verify.hpp>

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <thread>

namespace th::audit {
namespace {

using audit_test::sample_event;
using audit_test::TempDir;

std::string params_for(const std::string &db, const std::string &extra = "") {
  return R"({"path":")" + db + R"(")" + (extra.empty() ? "" : "," + extra) + "}";
}

th_status send(test::PluginHarness &h, const audit_test::SampleEvent &e) {
  th_audit_event v = e.view();
  return h.d->on_audit_event(h.inst, &v);
}

int64_t count_rows(const std::string &db, const std::string &table = "events") {
  Database d(db, Database::Mode::read_only);
  Statement s(d, ("SELECT count(*) FROM " + table).c_str());
  s.step();
  return s.int64(0);
}

TEST(AuditSqlitePlugin, DescribesItselfAsTheAuditSink) {
  TempDir dir;
  test::PluginHarness h(AUDIT_SQLITE_SO, params_for(dir / "a.db"));
  EXPECT_EQ(h.d->kind, TH_KIND_AUDIT_SINK);
  EXPECT_EQ(test::s(h.d->name), "audit-sqlite");
  EXPECT_NE(test::s(h.d->params_schema).find("\"required\":[\"path\"]"), std::string::npos);
  ASSERT_NE(h.d->on_audit_event, nullptr);
  ASSERT_NE(h.d->stop, nullptr);
}

TEST(AuditSqlitePlugin, WritesAVerifiableGapFreeChain) {
  TempDir dir;
  std::string db = dir / "a.db";
  {
    test::PluginHarness h(AUDIT_SQLITE_SO, params_for(db, R"("batch_max":64)"));
    for (uint64_t i = 0; i < 1000; ++i)
      ASSERT_EQ(send(h, sample_event("w", i)), TH_OK) << h.error();
    ASSERT_EQ(h.d->stop(h.inst), TH_OK) << h.error();
    EXPECT_EQ(h.recorder.metrics["audit_sink_events_written_total{}"], 1000);
  }
  auto r = verify(db);
  EXPECT_TRUE(r.ok()) << r.first_problem->detail;
  EXPECT_EQ(r.rows, 1000u);
  EXPECT_EQ(read_head(db).chain_position, 1000u);
  // Stored in the canonical form, with the documented timestamp form.
  Database d(db, Database::Mode::read_only);
  Statement s(d, "SELECT data, timestamp FROM events WHERE event_id = 'w-1'");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.text(0),
            R"({"avg_fill_price":188.25,"fees":{"commission":0.35,"exchange_fee":0.0003},"fill_id":"F-1",)"
            R"("instrument":"AAPL","quantity_filled":1.5,"sequence":1,"side":"sell","strength":0.1})");
  EXPECT_EQ(s.text(1), "2025-01-15T10:30:00.001Z");
}

TEST(AuditSqlitePlugin, AnEventDeliveredTwiceIsStoredOnce) {
  TempDir dir;
  std::string db = dir / "a.db";
  {
    test::PluginHarness h(AUDIT_SQLITE_SO, params_for(db));
    for (uint64_t i = 0; i < 10; ++i) {
      ASSERT_EQ(send(h, sample_event("d", i)), TH_OK);
      ASSERT_EQ(send(h, sample_event("d", i)), TH_OK); // same batch
    }
    ASSERT_EQ(h.d->stop(h.inst), TH_OK) << h.error();
  }
  {
    test::PluginHarness h(AUDIT_SQLITE_SO, params_for(db));
    ASSERT_EQ(send(h, sample_event("d", 3)), TH_OK); // redelivered after a restart
    ASSERT_EQ(send(h, sample_event("d", 10)), TH_OK);
    ASSERT_EQ(h.d->stop(h.inst), TH_OK) << h.error();
  }
  EXPECT_EQ(count_rows(db), 11);
  auto r = verify(db);
  EXPECT_TRUE(r.ok()) << r.first_problem->detail;
  EXPECT_EQ(r.head_position, 11u);
}

TEST(AuditSqlitePlugin, RestartContinuesTheChainFromTheStoredHead) {
  TempDir dir;
  std::string db = dir / "a.db";
  std::string first_head;
  {
    test::PluginHarness h(AUDIT_SQLITE_SO, params_for(db));
    for (uint64_t i = 0; i < 10; ++i)
      ASSERT_EQ(send(h, sample_event("r1", i)), TH_OK);
  } // destroyed without an explicit stop: the harness stops it, which flushes
  first_head = read_head(db).hash;
  EXPECT_EQ(read_head(db).chain_position, 10u);
  {
    test::PluginHarness h(AUDIT_SQLITE_SO, params_for(db));
    for (uint64_t i = 0; i < 10; ++i)
      ASSERT_EQ(send(h, sample_event("r2", i)), TH_OK);
  }
  Database d(db, Database::Mode::read_only);
  Statement s(d, "SELECT previous_hash, event_id FROM events WHERE chain_position = 11");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.text(0), first_head);
  EXPECT_EQ(s.text(1), "r2-0");
  auto r = verify(db);
  EXPECT_TRUE(r.ok()) << r.first_problem->detail;
  EXPECT_EQ(r.head_position, 20u);
}

// Two instances on one database (e.g. a replacement started before the old one stopped)
// still write one gap-free chain: each batch continues from the stored head.
TEST(AuditSqlitePlugin, TwoInstancesOnOneDatabaseKeepOneChain) {
  TempDir dir;
  std::string db = dir / "a.db";
  {
    test::PluginHarness a(AUDIT_SQLITE_SO, params_for(db, R"("batch_delay_ms":0)"));
    test::PluginHarness b(AUDIT_SQLITE_SO, params_for(db, R"("batch_delay_ms":0)"));
    for (uint64_t i = 0; i < 300; ++i) {
      ASSERT_EQ(send(a, sample_event("a", i)), TH_OK);
      ASSERT_EQ(send(b, sample_event("b", i)), TH_OK);
    }
    ASSERT_EQ(a.d->stop(a.inst), TH_OK) << a.error();
    ASSERT_EQ(b.d->stop(b.inst), TH_OK) << b.error();
  }
  EXPECT_EQ(count_rows(db), 600);
  auto r = verify(db);
  EXPECT_TRUE(r.ok()) << r.first_problem->detail;
  EXPECT_EQ(r.head_position, 600u);
}

TEST(AuditSqlitePlugin, SignsCheckpointsEveryNEventsAndAtStop) {
  TempDir dir;
  std::string db = dir / "a.db";
  generate_key_pair(dir / "k");
  {
    test::PluginHarness h(AUDIT_SQLITE_SO,
                          params_for(db, R"("batch_max":50,"checkpoint_every":100,"signing_key":")" +
                                             (dir / "k.key") + R"(")"));
    for (uint64_t i = 0; i < 250; ++i)
      ASSERT_EQ(send(h, sample_event("c", i)), TH_OK);
    ASSERT_EQ(h.d->stop(h.inst), TH_OK) << h.error();
  }
  auto sidecar = read_checkpoint_file(db + ".checkpoints.jsonl");
  // A checkpoint follows the batch (at most 50 rows) in which 100 rows have gathered since the
  // last one, plus one at stop; where batches fall depends on timing, so check the spacing.
  ASSERT_GE(sidecar.size(), 2u);
  EXPECT_EQ(sidecar.back().chain_position, 250u);
  uint64_t previous = 0;
  for (const auto &c : sidecar) {
    EXPECT_LE(c.chain_position - previous, 100u + 50u - 1u) << c.chain_position;
    previous = c.chain_position;
  }
  EXPECT_EQ(count_rows(db, "checkpoints"), static_cast<int64_t>(sidecar.size()));
  Head head = read_head(db);
  ASSERT_TRUE(head.last_checkpoint);
  EXPECT_EQ(head.last_checkpoint->chain_position, 250u);
  EXPECT_EQ(head.last_checkpoint->hash, head.hash);
  auto r = verify(db, {dir / "k.pub", db + ".checkpoints.jsonl"});
  EXPECT_TRUE(r.ok()) << r.first_problem->detail;
  EXPECT_EQ(r.checkpoints, 2 * sidecar.size());
}

// A crash between a checkpoint's commit and its sidecar line: the next start appends the line.
TEST(AuditSqlitePlugin, RestartTopsUpASidecarThatMissesCheckpoints) {
  TempDir dir;
  std::string db = dir / "a.db", sidecar = db + ".checkpoints.jsonl";
  generate_key_pair(dir / "k");
  std::string params = params_for(db, R"("synchronous":"full","signing_key":")" + (dir / "k.key") + R"(")");
  {
    test::PluginHarness h(AUDIT_SQLITE_SO, params);
    for (uint64_t i = 0; i < 20; ++i)
      ASSERT_EQ(send(h, sample_event("s", i)), TH_OK);
  }
  ASSERT_EQ(read_checkpoint_file(sidecar).size(), 1u);
  {
    std::FILE *truncate = std::fopen(sidecar.c_str(), "w");
    std::fclose(truncate);
  }
  ASSERT_TRUE(read_checkpoint_file(sidecar).empty());
  { test::PluginHarness h(AUDIT_SQLITE_SO, params); }
  auto lines = read_checkpoint_file(sidecar);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].chain_position, 20u);
  EXPECT_TRUE(verify(db, {dir / "k.pub", sidecar}).ok());
}

TEST(AuditSqlitePlugin, SignsACheckpointAfterTheIntervalWithoutNewEvents) {
  TempDir dir;
  std::string db = dir / "a.db";
  generate_key_pair(dir / "k");
  test::PluginHarness h(AUDIT_SQLITE_SO, params_for(db, R"("checkpoint_interval_s":0.05,"signing_key":")" +
                                                            (dir / "k.key") + R"(")"));
  ASSERT_EQ(send(h, sample_event("i", 0)), TH_OK);
  ASSERT_EQ(send(h, sample_event("i", 1)), TH_OK);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::optional<Checkpoint> checkpoint;
  while (std::chrono::steady_clock::now() < deadline) {
    checkpoint = read_head(db).last_checkpoint;
    if (checkpoint && checkpoint->chain_position == 2)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(checkpoint);
  EXPECT_EQ(checkpoint->chain_position, 2u);
}

TEST(AuditSqlitePlugin, BackPressureBlocksInsteadOfDropping) {
  TempDir dir;
  std::string db = dir / "a.db";
  {
    test::PluginHarness h(AUDIT_SQLITE_SO,
                          params_for(db, R"("queue_capacity":2,"batch_max":1,"batch_delay_ms":0)"));
    for (uint64_t i = 0; i < 300; ++i)
      ASSERT_EQ(send(h, sample_event("b", i)), TH_OK);
    ASSERT_EQ(h.d->stop(h.inst), TH_OK) << h.error();
  }
  EXPECT_EQ(count_rows(db), 300);
  EXPECT_TRUE(verify(db).ok());
}

TEST(AuditSqlitePlugin, RejectsBadEventsWithAReason) {
  TempDir dir;
  test::PluginHarness h(AUDIT_SQLITE_SO, params_for(dir / "a.db"));
  auto e = sample_event("x", 0);
  e.data_json = "{\"unterminated\": ";
  EXPECT_NE(send(h, e), TH_OK);
  EXPECT_NE(h.error().find("x-0"), std::string::npos) << h.error();
  e.data_json = "[1,2]";
  EXPECT_NE(send(h, e), TH_OK);
  EXPECT_NE(h.error().find("not a JSON object"), std::string::npos) << h.error();
  e.data_json = "{}";
  e.event_id.clear();
  EXPECT_NE(send(h, e), TH_OK);
  EXPECT_NE(h.error().find("event_id"), std::string::npos) << h.error();
}

TEST(AuditSqlitePlugin, RejectsBadParamsNamingThem) {
  TempDir dir;
  auto error_for = [&](const std::string &params) -> std::string {
    try {
      test::PluginHarness h(AUDIT_SQLITE_SO, params);
    } catch (const std::exception &e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_for("{}").find("path"), std::string::npos);
  EXPECT_NE(error_for(params_for(dir / "a.db", R"("batch_max":0)")).find("batch_max"), std::string::npos);
  EXPECT_NE(error_for(params_for(dir / "a.db", R"("wal_checkpoint_pages":0)")).find("wal_checkpoint_pages"),
            std::string::npos);
  EXPECT_NE(error_for(params_for(dir / "a.db", R"("synchronous":"sometimes")")).find("synchronous"),
            std::string::npos);
  EXPECT_NE(error_for(params_for(dir / "a.db", R"("bogus":1)")).find("bogus"), std::string::npos);
  EXPECT_NE(error_for(params_for(dir / "a.db", R"("signing_key":")" + (dir / "none.key") + R"(")"))
                .find("none.key"),
            std::string::npos);
  EXPECT_NE(error_for(params_for(dir / "no-such-dir/a.db")).find("no-such-dir"), std::string::npos);
}

// recompute.py (the independent implementation) accepts the plugin's chain and rejects a tampered one.
TEST(AuditSqlitePlugin, PythonRecomputationAgreesAndCatchesTampering) {
  TempDir dir;
  std::string db = dir / "a.db";
  {
    test::PluginHarness h(AUDIT_SQLITE_SO, params_for(db));
    for (uint64_t i = 0; i < 50; ++i)
      ASSERT_EQ(send(h, sample_event("p", i)), TH_OK);
  }
  std::string script =
      std::string("python3 ") + TRADEHOST_TEST_DATA_DIR + "/recompute.py " + db + " >/dev/null";
  int status = std::system(script.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  {
    Database d(db, Database::Mode::read_write_create);
    d.exec("UPDATE events SET service = 'someone-else' WHERE chain_position = 20");
  }
  status = std::system(script.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

} // namespace
} // namespace th::audit
