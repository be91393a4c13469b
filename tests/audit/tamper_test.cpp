// The tamper matrix: a signed 20-row chain (checkpoints at 5, 10, 15, 20 in the table and the
// sidecar) is altered one way per test, and verify() must name the right position and reason.
#include "sample_events.hpp"
#include "test_dir.hpp"

#include <audit_chain/appender.hpp>
#include <audit_chain/canonical_json.hpp>
#include <audit_chain/checkpoint.hpp>
#include <audit_chain/timestamp.hpp>
#include <audit_chain/verify.hpp>

#include <gtest/gtest.h>

namespace th::audit {
namespace {

PendingEvent pending(std::string_view prefix, uint64_t i) {
  auto e = audit_test::sample_event(prefix, i);
  return {e.event_id, e.correlation_id,         e.event_type, rfc3339_ms(e.timestamp_ns),
          e.service,  canonicalize(e.data_json)};
}

class Tamper : public ::testing::Test {
protected:
  void SetUp() override {
    generate_key_pair(dir / "signer");
    SigningKey key = SigningKey::load(dir / "signer.key");
    Appender appender(db, {});
    for (uint64_t batch = 0; batch < 4; ++batch) {
      std::vector<PendingEvent> events;
      for (uint64_t i = 0; i < 5; ++i)
        events.push_back(pending("t", batch * 5 + i));
      ASSERT_EQ(appender.append(events.data(), events.size(), &key), 5u);
      ASSERT_TRUE(appender.new_checkpoint());
      append_checkpoint_line(sidecar, *appender.new_checkpoint(), false);
    }
  }

  void sql(const std::string &statement) {
    Database d(db, Database::Mode::read_write_create);
    d.exec(statement.c_str());
    ASSERT_GT(sqlite3_total_changes(d.handle()), 0) << "the tamper changed nothing: " << statement;
  }

  std::string text(const std::string &query) {
    Database d(db, Database::Mode::read_only);
    Statement s(d, query.c_str());
    EXPECT_TRUE(s.step()) << query;
    return std::string(s.text(0));
  }

  VerifyReport check(bool with_key = true, bool with_sidecar = false) {
    VerifyOptions options;
    if (with_key)
      options.public_key_path = dir / "signer.pub";
    if (with_sidecar)
      options.checkpoint_file = sidecar;
    return verify(db, options);
  }

  static void expect_problem(const VerifyReport &r, uint64_t position, Problem problem) {
    ASSERT_FALSE(r.ok()) << "tampering went unnoticed";
    EXPECT_EQ(r.first_problem->chain_position, position) << r.first_problem->detail;
    EXPECT_EQ(problem_name(r.first_problem->problem), problem_name(problem)) << r.first_problem->detail;
  }

  // Replaces rows from..20 with a forged chain whose hashes are all recomputed correctly.
  void forge_tail(uint64_t from) {
    sql("DELETE FROM events WHERE chain_position >= " + std::to_string(from));
    Appender forger(db, {});
    std::vector<PendingEvent> forged;
    for (uint64_t i = from - 1; i < 20; ++i)
      forged.push_back(pending("forged", i));
    ASSERT_EQ(forger.append(forged), forged.size());
  }

  audit_test::TempDir dir;
  std::string db = dir / "chain.db";
  std::string sidecar = dir / "chain.db.checkpoints.jsonl";
};

TEST_F(Tamper, UntouchedChainVerifies) {
  auto r = check(true, true);
  EXPECT_TRUE(r.ok()) << r.first_problem->detail;
  EXPECT_EQ(r.rows, 20u);
  EXPECT_EQ(r.head_position, 20u);
  EXPECT_EQ(r.checkpoints, 8u); // 4 in the table, 4 in the sidecar
  EXPECT_EQ(r.table_checkpoints, 4u);
  EXPECT_EQ(r.sidecar_checkpoints, 4u);
  EXPECT_TRUE(r.signatures_checked);
  EXPECT_EQ(r.head_hash, text("SELECT hash FROM events WHERE chain_position = 20"));
}

TEST_F(Tamper, ModifiedDataFieldIsAHashMismatch) {
  std::string before = text("SELECT data FROM events WHERE chain_position = 7");
  sql(R"(UPDATE events SET data = replace(data, '"quantity_filled":6.5', '"quantity_filled":60.5') WHERE chain_position = 7)");
  ASSERT_NE(text("SELECT data FROM events WHERE chain_position = 7"), before);
  expect_problem(check(), 7, Problem::hash_mismatch);
}

TEST_F(Tamper, ModifiedHashIsAHashMismatch) {
  sql("UPDATE events SET hash = 'sha256:' || replace(substr(hash, 8), 'a', 'b') || '' WHERE chain_position = "
      "7 "
      "AND instr(hash, 'a') > 0");
  expect_problem(check(), 7, Problem::hash_mismatch);
}

TEST_F(Tamper, ModifiedPreviousHashIsABrokenLink) {
  sql("UPDATE events SET previous_hash = 'sha256:' || substr(hash, 8) WHERE chain_position = 7");
  expect_problem(check(), 7, Problem::broken_link);
}

TEST_F(Tamper, DeletedMiddleRowIsAGap) {
  sql("DELETE FROM events WHERE chain_position = 7");
  expect_problem(check(), 7, Problem::gap);
}

TEST_F(Tamper, DeletedMiddleRowWithRenumberingIsABrokenLink) {
  sql("DELETE FROM events WHERE chain_position = 7");
  sql("UPDATE events SET chain_position = chain_position + 1000 WHERE chain_position > 7");
  sql("UPDATE events SET chain_position = chain_position - 1001 WHERE chain_position > 1000");
  expect_problem(check(false), 7, Problem::broken_link);
}

TEST_F(Tamper, DeletedLastRowsAreCaughtByACheckpoint) {
  sql("DELETE FROM events WHERE chain_position >= 18");
  expect_problem(check(), 18, Problem::truncation);
  expect_problem(check(false), 18, Problem::truncation); // positions alone show it, even unsigned
}

TEST_F(Tamper, TruncationWithTheCheckpointsDeletedIsCaughtByTheSidecar) {
  sql("DELETE FROM events WHERE chain_position >= 17");
  sql("DELETE FROM checkpoints WHERE chain_position >= 16");
  EXPECT_TRUE(check().ok()) << "without the sidecar the cut is invisible: every remaining row links";
  expect_problem(check(true, true), 17, Problem::truncation);
}

TEST_F(Tamper, DeletedCheckpointRowsAreMissingCheckpointsAgainstTheSidecar) {
  sql("DELETE FROM checkpoints WHERE chain_position IN (10, 15)");
  EXPECT_TRUE(check().ok()) << "the rows are intact; only the table's checkpoints were removed";
  expect_problem(check(true, true), 10, Problem::missing_checkpoint);
  expect_problem(check(false, true), 10, Problem::missing_checkpoint);
}

TEST_F(Tamper, ForgedTailWithItsCheckpointRowsDeletedIsCaughtByTheSidecar) {
  forge_tail(12);
  sql("DELETE FROM checkpoints WHERE chain_position >= 12");
  EXPECT_TRUE(check().ok()) << "the forged rows link; the table has no checkpoint over them";
  expect_problem(check(true, true), 15, Problem::checkpoint_mismatch);
}

TEST_F(Tamper, ASidecarBehindTheTableIsNoProblem) {
  // A crash between a checkpoint's commit and its sidecar line leaves the sidecar behind.
  std::vector<Checkpoint> lines = read_checkpoint_file(sidecar);
  lines.pop_back();
  std::FILE *f = std::fopen(sidecar.c_str(), "w");
  std::fclose(f);
  for (auto &c : lines)
    append_checkpoint_line(sidecar, c, false);
  auto r = check(true, true);
  EXPECT_TRUE(r.ok()) << r.first_problem->detail;
  EXPECT_EQ(r.sidecar_checkpoints, 3u);
}

TEST_F(Tamper, SwappedRowsAreAReordering) {
  sql("UPDATE events SET chain_position = -6 WHERE chain_position = 6");
  sql("UPDATE events SET chain_position = 6 WHERE chain_position = 9");
  sql("UPDATE events SET chain_position = 9 WHERE chain_position = -6");
  expect_problem(check(), 6, Problem::reordering);
}

TEST_F(Tamper, SwappedNeighboursAreAReordering) {
  sql("UPDATE events SET chain_position = -6 WHERE chain_position = 6");
  sql("UPDATE events SET chain_position = 6 WHERE chain_position = 7");
  sql("UPDATE events SET chain_position = 7 WHERE chain_position = -6");
  expect_problem(check(), 6, Problem::reordering);
}

TEST_F(Tamper, InsertedForgedRowIsAnInsertion) {
  // A competent forger: the new row links to row 7 and carries a correct hash; later rows move up.
  std::string previous = text("SELECT hash FROM events WHERE chain_position = 7");
  sql("UPDATE events SET chain_position = chain_position + 1000 WHERE chain_position >= 8");
  sql("UPDATE events SET chain_position = chain_position - 999 WHERE chain_position >= 1000");
  PendingEvent f = pending("forged", 7);
  RowView row{8, f.event_id, f.correlation_id, f.event_type, f.timestamp, f.service, f.data, previous};
  std::string hash = RowHasher().hash(row);
  sql("INSERT INTO events VALUES (8, '" + f.event_id + "', '" + f.correlation_id + "', '" + f.event_type +
      "', '" + f.timestamp + "', '" + f.service + "', '" + f.data + "', '" + previous + "', '" + hash + "')");
  expect_problem(check(), 8, Problem::insertion);
}

TEST_F(Tamper, RehashedTailForgeryIsCaughtByTheSignature) {
  forge_tail(12);
  // The forger also points the stored checkpoints at the forged hashes; it cannot re-sign them.
  sql("UPDATE checkpoints SET hash = (SELECT hash FROM events e WHERE e.chain_position = "
      "checkpoints.chain_position) "
      "WHERE chain_position >= 12");
  expect_problem(check(), 15, Problem::bad_signature);
  EXPECT_TRUE(check(false).ok()) << "without the trusted key a full rewrite is self-consistent";
  expect_problem(check(false, true), 15,
                 Problem::checkpoint_mismatch); // the sidecar still has the old hashes
}

TEST_F(Tamper, RehashedTailWithOwnKeyIsCaughtByTheTrustedKey) {
  forge_tail(12);
  generate_key_pair(dir / "forger");
  SigningKey forger = SigningKey::load(dir / "forger.key");
  for (uint64_t p : {15, 20}) {
    Checkpoint c =
        forger.sign(p, text("SELECT hash FROM events WHERE chain_position = " + std::to_string(p)), "x");
    sql("UPDATE checkpoints SET hash = '" + c.hash + "', signature = '" + c.signature + "', public_key = '" +
        c.public_key + "' WHERE chain_position = " + std::to_string(p));
  }
  auto r = check();
  expect_problem(r, 15, Problem::bad_signature);
  EXPECT_NE(r.first_problem->detail.find(forger.public_key_hex()), std::string::npos)
      << r.first_problem->detail;
}

TEST_F(Tamper, UnchangedTailForgeryWithoutCheckpointUpdateIsAMismatch) {
  forge_tail(12);
  expect_problem(check(false), 15, Problem::checkpoint_mismatch);
}

TEST(Verify, UnreadableInputsThrowUnreadable) {
  audit_test::TempDir dir;
  EXPECT_THROW(verify(dir / "missing.db"), Unreadable);
  {
    std::FILE *f = std::fopen((dir / "garbage.db").c_str(), "w");
    std::fputs("this is not a database, just enough text to look like a file of some length......", f);
    std::fclose(f);
  }
  EXPECT_THROW(verify(dir / "garbage.db"), Unreadable);
  { Appender empty(dir / "empty.db", {}); }
  EXPECT_THROW(verify(dir / "empty.db", {dir / "missing.pub", std::nullopt}), Unreadable);
  EXPECT_THROW(verify(dir / "empty.db", {std::nullopt, dir / "missing.jsonl"}), Unreadable);
  auto r = verify(dir / "empty.db");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.head_position, 0u);
  EXPECT_EQ(r.head_hash, genesis_hash);
}

} // namespace
} // namespace th::audit
