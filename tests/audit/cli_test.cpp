// `tradehost audit verify|export|keygen|head` as a user runs them (the audit_cli_driver binary
// runs the host's own audit_command()).
#include "cli_runner.hpp"
#include "sample_events.hpp"
#include "test_dir.hpp"

#include <audit_chain/appender.hpp>
#include <audit_chain/canonical_json.hpp>
#include <audit_chain/checkpoint.hpp>
#include <audit_chain/row.hpp>
#include <audit_chain/timestamp.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>

namespace th::audit {
namespace {

using audit_test::cli;
using audit_test::CliResult;

class AuditCli : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(cli("keygen --out " + (dir / "k")).code, 0);
    SigningKey key = SigningKey::load(dir / "k.key");
    Appender a(db, {});
    std::vector<PendingEvent> events;
    for (uint64_t i = 0; i < 10; ++i) {
      auto e = audit_test::sample_event("cli", i);
      events.push_back({e.event_id, e.correlation_id, e.event_type, rfc3339_ms(e.timestamp_ns), e.service,
                        canonicalize(e.data_json)});
    }
    a.append(events.data(), events.size(), &key);
  }
  audit_test::TempDir dir;
  std::string db = dir / "chain.db";
};

TEST_F(AuditCli, KeygenWritesAPrivateKeyOnlyTheOwnerCanRead) {
  struct stat st;
  ASSERT_EQ(::stat((dir / "k.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir / "k.pub").c_str(), &st), 0);
  EXPECT_EQ(cli("keygen --out " + (dir / "k")).code, 1) << "must refuse to overwrite";
  EXPECT_EQ(cli("keygen").code, 2);
}

TEST_F(AuditCli, VerifyExitCodesAndFirstBadPosition) {
  CliResult ok = cli("verify " + db + " --pubkey " + (dir / "k.pub"));
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("valid: 10 rows"), std::string::npos) << ok.out;
  {
    Database d(db, Database::Mode::read_write_create);
    d.exec("UPDATE events SET correlation_id = 'tv_other' WHERE chain_position = 4");
  }
  CliResult bad = cli("verify " + db + " --pubkey " + (dir / "k.pub"));
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("first bad position 4: hash_mismatch"), std::string::npos) << bad.out;
  CliResult json = cli("verify --json " + db);
  EXPECT_EQ(json.code, 1);
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["first_problem"]["chain_position"], 4);
  EXPECT_EQ(j["first_problem"]["reason"], "hash_mismatch");
  EXPECT_EQ(cli("verify " + (dir / "missing.db")).code, 2);
  EXPECT_EQ(cli("verify " + db + " --pubkey " + (dir / "missing.pub")).code, 2);
  EXPECT_EQ(cli("verify").code, 2);
  EXPECT_EQ(cli("verify --frobnicate " + db).code, 2);
}

// Finding 13 of issue 13: a forged tail whose checkpoint rows were also deleted verified as
// "valid ... 0 checkpoints" because verify ignored the sidecar beside the database.
TEST_F(AuditCli, VerifyUsesTheSidecarBesideTheDatabaseByDefault) {
  const std::string sidecar = db + ".checkpoints.jsonl";
  {
    Database d(db, Database::Mode::read_only);
    Statement s(d, "SELECT chain_position, hash, signature, public_key, signed_at FROM checkpoints");
    ASSERT_TRUE(s.step());
    append_checkpoint_line(sidecar,
                           Checkpoint{static_cast<uint64_t>(s.int64(0)), std::string(s.text(1)),
                                      std::string(s.text(2)), std::string(s.text(3)), std::string(s.text(4))},
                           false);
  }
  const std::string pub = " --pubkey " + (dir / "k.pub");
  CliResult ok = cli("verify " + db + pub);
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("1 in the table, 1 in sidecar " + sidecar), std::string::npos) << ok.out;

  // Deleting the table's checkpoint rows alone: fewer checkpoints than the sidecar.
  {
    Database d(db, Database::Mode::read_write_create);
    d.exec("DELETE FROM checkpoints");
  }
  CliResult missing = cli("verify " + db + pub);
  EXPECT_EQ(missing.code, 1) << missing.out;
  EXPECT_NE(missing.out.find("first bad position 10: missing_checkpoint"), std::string::npos) << missing.out;

  // A forged tail (rows 6..10 rewritten with correct hashes), checkpoint rows gone.
  {
    Database d(db, Database::Mode::read_write_create);
    d.exec("DELETE FROM events WHERE chain_position >= 6");
  }
  {
    Appender forger(db, {});
    std::vector<PendingEvent> forged;
    for (uint64_t i = 5; i < 10; ++i) {
      auto e = audit_test::sample_event("forged", i);
      forged.push_back({e.event_id, e.correlation_id, e.event_type, rfc3339_ms(e.timestamp_ns), e.service,
                        canonicalize(e.data_json)});
    }
    ASSERT_EQ(forger.append(forged), 5u);
  }
  CliResult forged = cli("verify --json " + db + pub);
  EXPECT_EQ(forged.code, 1) << forged.out;
  auto j = nlohmann::json::parse(forged.out);
  EXPECT_EQ(j["first_problem"]["reason"], "checkpoint_mismatch") << forged.out;
  EXPECT_EQ(j["first_problem"]["chain_position"], 10);
  EXPECT_EQ(j["checkpoint_file"], sidecar);
  EXPECT_EQ(j["table_checkpoints"], 0);
  EXPECT_EQ(j["sidecar_checkpoints"], 1);

  CliResult skipped = cli("verify " + db + pub + " --no-sidecar");
  EXPECT_EQ(skipped.code, 0) << "only the table: the forgery is self-consistent";
  EXPECT_NE(skipped.out.find("no sidecar"), std::string::npos) << skipped.out;
  EXPECT_EQ(cli("verify " + db + " --no-sidecar --checkpoints " + sidecar).code, 2);
}

TEST_F(AuditCli, ExportWritesTheRequestedRowsAsCanonicalJsonLines) {
  CliResult r = cli("export " + db + " --from 3 --to 5");
  ASSERT_EQ(r.code, 0);
  std::vector<nlohmann::json> rows;
  size_t start = 0;
  for (size_t nl; (nl = r.out.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = r.out.substr(start, nl - start);
    rows.push_back(nlohmann::json::parse(line));
    EXPECT_EQ(canonical_json(rows.back()), line);
  }
  ASSERT_EQ(rows.size(), 3u);
  RowHasher hasher;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto &j = rows[i];
    EXPECT_EQ(j["chain_position"], 3 + i);
    std::string data = canonical_json(j["data"]);
    std::string a = j["event_id"], b = j["correlation_id"], c = j["event_type"], d = j["timestamp"],
                e = j["service"], f = j["previous_hash"];
    EXPECT_EQ(hasher.hash({3 + i, a, b, c, d, e, data, f}), j["hash"]);
  }
  EXPECT_EQ(cli("export " + db).out.size() > r.out.size(), true);
  EXPECT_EQ(cli("export " + db + " --from x").code, 2);
}

TEST_F(AuditCli, HeadPrintsPositionHashAndLastCheckpoint) {
  CliResult r = cli("head " + db);
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["chain_position"], 10);
  EXPECT_EQ(j["hash"].get<std::string>().substr(0, 7), "sha256:");
  EXPECT_EQ(j["last_checkpoint"]["chain_position"], 10);
  EXPECT_EQ(j["last_checkpoint"]["hash"], j["hash"]);
  EXPECT_EQ(cli("head " + (dir / "missing.db")).code, 2);
}

TEST_F(AuditCli, HelpForEveryCommand) {
  for (std::string c : {"", "verify ", "export ", "keygen ", "head "}) {
    CliResult r = cli(c + "--help");
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_NE(r.out.find("Usage: tradehost audit"), std::string::npos) << c;
  }
  EXPECT_EQ(cli("frobnicate").code, 2);
}

} // namespace
} // namespace th::audit
