// End to end through the real tradehost binary with configs/fix-venue.yaml: a signed webhook ->
// momentum -> risk-limits -> fix-broker -> tradehost-fix-venue -> fills -> positions and audit
// rows; then a host restart while the venue replays its fills (PossDup): nothing doubles.
#include "../e2e/audit_trail.hpp"
#include "../e2e/host_process.hpp"
#include "venue_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

using nlohmann::json;
using th::test::eventually;
using th::test::HostOptions;
using th::test::HostProcess;
using th::test::VenueProcess;

namespace {

const char *const seed_signal = R"({"instrument":"AAPL","price":150.25,"signal":"buy","strength":0.8})";

double position_of(HostProcess &host, const std::string &agent, const std::string &instrument) {
  auto body = json::parse(host.get("/positions").body, nullptr, false);
  if (!body.is_object())
    return 0;
  for (auto &p : body["positions"])
    if (p["agent_id"] == agent && p["instrument"] == instrument)
      return p["quantity"].get<double>();
  return 0;
}

} // namespace

TEST(FixBrokerEndToEnd, WebhookToVenueFillsPositionsAndAuditRowsAndARestartDoublesNothing) {
  const std::string root = th::test::make_temp_dir("fix-broker-e2e");
  VenueProcess venue(root + "/venue", {"--mid", "AAPL=150.25", "--store", root + "/venue/store",
                                       "--replay-fills-on-logon", "--commission-per-share", "0.005"});
  HostOptions options;
  options.config = std::string(TRADEHOST_SOURCE_DIR) + "/configs/fix-venue.yaml";
  options.env = {{"FIX_VENUE_PORT", std::to_string(venue.port())}, {"FIX_RECONNECT_INTERVAL_S", "1"}};
  HostProcess host(options);
  host.start();
  ASSERT_TRUE(venue.await("logon")) << venue.log() << host.log();

  auto r = host.post_webhook(seed_signal);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string corr_id = json::parse(r.body)["corr_id"];
  ASSERT_TRUE(eventually([&] { return position_of(host, "momentum_v1", "AAPL") == 100; }))
      << host.get("/positions").body << venue.log() << host.log();
  auto acked = venue.events("order_acked");
  ASSERT_EQ(acked.size(), 1u) << venue.log();
  EXPECT_EQ(acked[0]["cl_ord_id"].get<std::string>().rfind(corr_id + ".momentum_v1.", 0), 0u) << acked[0];
  ASSERT_EQ(venue.events("fill_sent").size(), 1u);
  EXPECT_EQ(host.terminate(), 0) << host.log();
  ASSERT_TRUE(venue.await("logout")) << venue.log();

  // Restart on the same data directory: the venue resends its fill at the logon.
  host.start();
  ASSERT_TRUE(venue.await("fault_fills_replayed", 2)) << venue.log();
  ASSERT_TRUE(eventually([&] { return host.log().find("already applied") != std::string::npos; }))
      << host.log();
  EXPECT_EQ(position_of(host, "momentum_v1", "AAPL"), 100);
  EXPECT_EQ(host.terminate(), 0) << host.log();

  auto trail = th::test::read_audit_trail(host.audit_db());
  for (const char *type : {"webhook_received", "signal_published", "decision_made", "order_sent",
                           "fill_received", "position_updated"})
    EXPECT_EQ(trail.types[corr_id][type], 1) << type;
  ASSERT_EQ(trail.fill_ids[corr_id].size(), 1u);
  EXPECT_EQ(trail.fill_ids[corr_id].begin()->rfind("fix-" + corr_id + ".momentum_v1.", 0), 0u);
  EXPECT_EQ(trail.net["AAPL"], 100);
  auto [code, out] = host.tradehost("audit verify " + host.audit_db() + " --pubkey " + host.data_dir() +
                                    "/audit-signing.pub");
  EXPECT_EQ(code, 0) << out;
  std::filesystem::remove_all(root);
}
