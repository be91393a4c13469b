// The checked-in test vectors (tests/audit/vectors/): events.jsonl is the input as a producer
// sends it (non-canonical data text), chain.jsonl the chain as `tradehost audit export` prints
// it. The same files are checked by recompute.py, and quoted in docs/audit-format.md.
// Regenerate chain.jsonl (only when the format changes on purpose) with
// AUDIT_REGENERATE_VECTORS=1 ./audit_test --gtest_filter='AuditVectors.*'.
#include "test_dir.hpp"

#include <audit_chain/appender.hpp>
#include <audit_chain/canonical_json.hpp>
#include <audit_chain/row.hpp>
#include <audit_chain/timestamp.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

namespace th::audit {
namespace {

const std::string vectors_dir = std::string(TRADEHOST_TEST_DATA_DIR) + "/vectors/";

std::vector<std::string> lines(const std::string &path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      out.push_back(line);
  return out;
}

std::vector<PendingEvent> input_events() {
  std::vector<PendingEvent> out;
  for (auto &line : lines(vectors_dir + "events.jsonl")) {
    auto j = nlohmann::json::parse(line);
    out.push_back({j.at("event_id"), j.at("correlation_id"), j.at("event_type"),
                   rfc3339_ms(j.at("timestamp_ns")), j.at("service"),
                   canonicalize(j.at("data_json").get<std::string>())});
  }
  return out;
}

// The chain the appender writes for the input events, as export lines.
std::vector<std::string> written_chain(const std::string &db_path) {
  Appender appender(db_path, {});
  appender.append(input_events());
  Statement rows(appender.database(),
                 "SELECT chain_position, event_id, correlation_id, event_type, timestamp, "
                 "service, data, previous_hash, hash FROM events ORDER BY chain_position");
  std::vector<std::string> out;
  while (rows.step()) {
    RowView row{static_cast<uint64_t>(rows.int64(0)),
                rows.text(1),
                rows.text(2),
                rows.text(3),
                rows.text(4),
                rows.text(5),
                rows.text(6),
                rows.text(7)};
    std::string line;
    append_row_record(row, rows.text(8), line);
    out.push_back(line);
  }
  return out;
}

TEST(AuditVectors, ChainFileHashesRecompute) {
  if (std::getenv("AUDIT_REGENERATE_VECTORS")) {
    audit_test::TempDir dir;
    std::ofstream out(vectors_dir + "chain.jsonl", std::ios::trunc);
    for (auto &line : written_chain(dir / "vectors.db"))
      out << line << "\n";
  }
  auto chain = lines(vectors_dir + "chain.jsonl");
  ASSERT_EQ(chain.size(), 5u);
  RowHasher hasher;
  std::string previous(genesis_hash);
  uint64_t position = 1;
  for (auto &line : chain) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(canonical_json(j), line) << "vector lines are canonical JSON";
    std::string data = canonical_json(j.at("data"));
    std::string event_id = j.at("event_id"), correlation_id = j.at("correlation_id"),
                event_type = j.at("event_type"), timestamp = j.at("timestamp"), service = j.at("service"),
                previous_hash = j.at("previous_hash"), hash = j.at("hash");
    EXPECT_EQ(j.at("chain_position").get<uint64_t>(), position);
    EXPECT_EQ(previous_hash, previous) << "position " << position;
    RowView row{position, event_id, correlation_id, event_type, timestamp, service, data, previous_hash};
    EXPECT_EQ(hasher.hash(row), hash) << "position " << position;
    previous = hash;
    ++position;
  }
}

TEST(AuditVectors, AppenderReproducesTheVectors) {
  audit_test::TempDir dir;
  EXPECT_EQ(written_chain(dir / "vectors.db"), lines(vectors_dir + "chain.jsonl"));
}

TEST(AuditVectors, FirstRowMessageIsTheDocumentedBytes) {
  auto events = input_events();
  RowView row{1,
              events[0].event_id,
              events[0].correlation_id,
              events[0].event_type,
              events[0].timestamp,
              events[0].service,
              events[0].data,
              genesis_hash};
  std::string message;
  row_message(row, message);
  EXPECT_EQ(
      message,
      R"({"chain_position":1,"correlation_id":"tv_4f2a9c01","data":{"instrument":"AAPL","price":187.25,)"
      R"("signal":"buy","source":"tradingview","strength":0.8},"event_id":"vec-0001",)"
      R"("event_type":"webhook_received","previous_hash":"sha256:)" +
          std::string(64, '0') + R"(","service":"gateway","timestamp":"2025-01-15T10:30:01.250Z"})");
}

} // namespace
} // namespace th::audit
