// The embedded deployment's acceptance inbox on a full disk (a tmpfs of its own mounted at
// DATA_DIR/inbox, filled by another file): a webhook that cannot be written is refused 503 GW-009
// (nothing accepted) and so is every later one, /healthz says why, and a restart with room again
// accepts webhooks (the torn end of the segment is the recovery's to read, not this process's).
// The signals here reach momentum's max_position, so the recovery also meets the strategy's own
// decision_made audit events (skips), which are not intents.
// Mounting needs CAP_SYS_ADMIN (root, as in CI); the test is skipped elsewhere.
#include "host_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

using nlohmann::json;
using th::test::eventually;
using th::test::HostProcess;

TEST(InboxFault, AFullDiskRefusesWebhooksAndSaysSoUntilARestart) {
  HostProcess host;
  const std::string inbox = host.data_dir() + "/inbox";
  std::filesystem::create_directories(inbox);
  if (::mount("tmpfs", inbox.c_str(), "tmpfs", 0, "size=4m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno) << "): run as root for this test";
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{inbox};
  host.start();
  const std::string body = R"({"instrument":"AAPL","signal":"buy","strength":0.9,"price":150})";
  ASSERT_EQ(host.post_webhook(body).status, 200);

  const std::string filler = inbox + "/filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string block(64 * 1024, 'x');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size())))
      ;
  }
  // The inbox segment may still have room in its last page: post until a write fails.
  th::gateway::ClientResponse refused;
  ASSERT_TRUE(eventually([&] { return (refused = host.post_webhook(body)).status == 503; })) << host.log();
  EXPECT_NE(refused.body.find("GW-009"), std::string::npos) << refused.body;
  auto health = host.get("/healthz");
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_NE(json::parse(health.body).value("problem", "").find("the inbox cannot be written"),
            std::string::npos)
      << health.body;
  EXPECT_NE(host.log().find(R"("event":"inbox_write_failed")"), std::string::npos);

  // The refused write was cut off: the segment ends with whole lines only, so the recovery at
  // the next start publishes nothing that got a 503.
  for (const auto &entry : std::filesystem::directory_iterator(inbox)) {
    if (entry.path().extension() != ".inbox" || entry.file_size() == 0)
      continue;
    std::ifstream in(entry.path(), std::ios::binary);
    in.seekg(-1, std::ios::end);
    EXPECT_EQ(in.get(), '\n') << entry.path() << " ends inside a line";
  }
  std::filesystem::remove(filler);
  EXPECT_EQ(host.post_webhook(body).status, 503); // still refused: failed once, refused until restart
  EXPECT_EQ(host.get("/healthz").status, 503);
  EXPECT_EQ(host.terminate(), 0) << host.log();
  host.start();
  auto accepted = host.post_webhook(body);
  EXPECT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(host.get("/healthz").status, 200);
  EXPECT_EQ(host.terminate(), 0) << host.log();
}
