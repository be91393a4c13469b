// Issue 13 finding 4 with a real tradehost and real faults: the audit database is locked by
// another connection past the sink's busy_timeout_ms, or its file system is full (a tmpfs of a
// few MiB, filled by another file). The host must then fail closed (new intents rejected with
// audit_unavailable, /healthz and /readyz 503 naming the sink, a metric and a log line), drop
// nothing it accepted, and trade again by itself once the fault goes.
#include "host_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

using nlohmann::json;
using th::test::eventually;
using th::test::HostOptions;
using th::test::HostProcess;

namespace {

// configs/dev.yaml with a short lock timeout for the trail, optionally kept in `audit_dir`.
std::string fault_config(const std::string &audit_dir = "") {
  std::ifstream in(std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const std::string key = "signing_key: ${TRADEHOST_DATA_DIR:-./var}/audit-signing.key\n";
  size_t at = text.find(key);
  if (at == std::string::npos)
    throw std::runtime_error("configs/dev.yaml: the trail's signing_key line moved");
  text.insert(at + key.size(), "      busy_timeout_ms: 200\n      retry_max_ms: 100\n");
  if (!audit_dir.empty()) {
    const std::string path = "path: ${TRADEHOST_DATA_DIR:-./var}/audit.db";
    at = text.find(path);
    if (at == std::string::npos)
      throw std::runtime_error("configs/dev.yaml: the trail's path line moved");
    text.replace(at, path.size(), "path: " + audit_dir + "/audit.db");
  }
  std::string file = th::test::make_temp_dir("tradehost-auditfault") + "/dev.yaml";
  std::ofstream(file) << text;
  return file;
}

std::string body(double price) {
  return json{{"instrument", "AAPL"}, {"price", price}, {"signal", "buy"}, {"strength", 0.9}}.dump();
}

double metric(HostProcess &host, const std::string &sample) {
  std::istringstream in(host.get("/metrics").body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(sample + " ", 0) == 0)
      return std::stod(line.substr(sample.size() + 1));
  return -1;
}

// corr_id -> (event_type -> data) of the trail.
std::map<std::string, std::multimap<std::string, json>> trail(const HostProcess &host,
                                                              const std::string &db) {
  auto [code, out] = host.tradehost("audit export " + db);
  std::map<std::string, std::multimap<std::string, json>> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (auto j = json::parse(line, nullptr, false); j.is_object())
      rows[j.value("correlation_id", "")].emplace(j.value("event_type", ""), j["data"]);
  return rows;
}

// The trail's database as the deployment names it (in the data dir unless moved).
std::string audit_db_of(const std::string &config, const HostProcess &host) {
  std::ifstream in(config);
  std::stringstream text;
  text << in.rdbuf();
  const std::string yaml = text.str();
  const std::string key = "path: /";
  const size_t at = yaml.find(key);
  if (at == std::string::npos)
    return host.audit_db();
  return yaml.substr(at + key.size() - 1, yaml.find('\n', at) - at - key.size() + 1);
}

// Runs the host through `inject` (the fault begins) and `heal` (it ends) and checks that it
// failed closed meanwhile, recovered by itself and lost nothing.
void fails_closed_and_recovers(const std::string &config, const std::function<void(HostProcess &)> &inject,
                               const std::function<void()> &heal, const std::string &reason) {
  HostOptions options;
  options.config = config;
  HostProcess host(options);
  host.start();
  const std::string trail_db = audit_db_of(config, host);
  auto first = host.post_webhook(body(150));
  ASSERT_EQ(first.status, 200) << first.body;
  std::string before = json::parse(first.body)["corr_id"];
  ASSERT_TRUE(eventually([&] { return trail(host, trail_db)[before].count("fill_received") == 1; }))
      << host.log();

  inject(host);
  auto during_fault = host.post_webhook(body(151)); // accepted; its events wait for the fault's end
  ASSERT_EQ(during_fault.status, 200) << during_fault.body;
  ASSERT_TRUE(eventually([&] { return host.get("/healthz").status == 503; })) << host.log();
  auto health = json::parse(host.get("/healthz").body);
  EXPECT_EQ(health["ok"], false);
  EXPECT_EQ(health["audit"]["status"], "unavailable");
  EXPECT_EQ(health["audit"]["sinks"][0]["sink"], "trail");
  EXPECT_EQ(health["audit"]["sinks"][0]["state"], "unavailable");
  EXPECT_NE(health["problem"].get<std::string>().find("audit sink 'trail' unavailable"), std::string::npos)
      << health.dump();
  EXPECT_NE(health["problem"].get<std::string>().find(reason), std::string::npos) << health.dump();
  auto ready = host.get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("trail"), std::string::npos) << ready.body;
  EXPECT_EQ(metric(host, R"(audit_sink_available{sink="trail"})"), 0);
  EXPECT_NE(host.log().find(R"("event":"audit_sink_unavailable")"), std::string::npos) << host.log();

  // A signal now: its intent is rejected, never sent to the executor.
  auto refused = host.post_webhook(body(152));
  ASSERT_EQ(refused.status, 200) << refused.body;
  std::string rejected = json::parse(refused.body)["corr_id"];
  ASSERT_TRUE(eventually([&] {
    return metric(host, R"(agent_risk_checks_failed_total{reason="audit_unavailable"})") >= 1;
  })) << host.get("/metrics").body;

  // The fault ends: the sink writes what it held, and trading resumes by itself.
  heal();
  ASSERT_TRUE(eventually([&] { return host.get("/healthz").status == 200; })) << host.log();
  EXPECT_EQ(host.get("/readyz").status, 200);
  EXPECT_EQ(metric(host, R"(audit_sink_available{sink="trail"})"), 1);
  auto after = host.post_webhook(body(153));
  ASSERT_EQ(after.status, 200) << after.body;
  std::string resumed = json::parse(after.body)["corr_id"];
  ASSERT_TRUE(eventually([&] { return trail(host, trail_db)[resumed].count("fill_received") == 1; }))
      << host.log();
  EXPECT_EQ(host.terminate(), 0) << host.log();

  auto rows = trail(host, trail_db);
  std::string during = json::parse(during_fault.body)["corr_id"];
  for (const auto &c : {before, during, rejected, resumed}) {
    EXPECT_EQ(rows[c].count("webhook_received"), 1u) << c;
    EXPECT_EQ(rows[c].count("signal_published"), 1u) << c;
  }
  ASSERT_EQ(rows[rejected].count("order_rejected"), 1u) << "the rejection was held and stored";
  auto rejection = rows[rejected].find("order_rejected")->second;
  EXPECT_EQ(rejection["rule"], "audit_unavailable") << rejection.dump();
  EXPECT_EQ(rows[rejected].count("fill_received"), 0u);
  auto [code, out] =
      host.tradehost("audit verify " + trail_db + " --pubkey " + host.data_dir() + "/audit-signing.pub");
  EXPECT_EQ(code, 0) << out;
}

} // namespace

TEST(AuditFault, ALockedTrailStopsTradingUntilItWritesAgainAndLosesNothing) {
  sqlite3 *locker = nullptr;
  fails_closed_and_recovers(
      fault_config(),
      [&](HostProcess &host) { // another connection takes the write lock and keeps it
        ASSERT_EQ(sqlite3_open(host.audit_db().c_str(), &locker), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(locker, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
      },
      [&] {
        ASSERT_EQ(sqlite3_exec(locker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(locker);
      },
      "locked");
}

// The trail on a file system of its own, 8 MiB, mounted for the test (needs CAP_SYS_ADMIN, as
// root in CI; skipped elsewhere), filled up by another file, then emptied.
TEST(AuditFault, AFullDiskStopsTradingUntilItHasRoomAgainAndLosesNothing) {
  const std::string dir = th::test::make_temp_dir("tradehost-fulldisk");
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=8m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno) << "): run as root for this test";
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{dir};
  const std::string filler = dir + "/filler";
  fails_closed_and_recovers(
      fault_config(dir),
      [&](HostProcess &) { // every free block taken
        std::ofstream out(filler, std::ios::binary);
        const std::string block(64 * 1024, 'x');
        while (out.write(block.data(), static_cast<std::streamsize>(block.size())))
          ;
      },
      [&] { std::filesystem::remove(filler); }, "full");
}
