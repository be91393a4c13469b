// The gateway's inbox (bus/inbox.hpp): group commit from many threads, segments, cancels, a torn
// last line after a crash, adoption by the next process, retirement; and the InboxBus in front
// of a real embedded bus.
#include "bus/embedded_bus.hpp"
#include "bus/inbox.hpp"
#include "bus/inbox_bus.hpp"
#include "events/json_codec.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

namespace th {
namespace {

struct TempDir {
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "inbox-test-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

std::string entry(int i) {
  return R"({"m":"m)" + std::to_string(i) + R"(","s":{"corr_id":"c)" + std::to_string(i) + R"("}})";
}

size_t files(const std::filesystem::path &dir) {
  size_t n = 0;
  for (auto &e : std::filesystem::directory_iterator(dir))
    n += e.path().extension() == ".inbox";
  return n;
}

TEST(Inbox, ConcurrentAppendsAreAllWrittenOnceAndAdoptedByTheNextProcess) {
  TempDir dir;
  {
    Inbox inbox({dir.path / "inbox", false});
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 500; ++i)
          inbox.resolve(inbox.append(entry(t * 1000 + i)));
      });
    for (auto &t : threads)
      t.join();
    EXPECT_EQ(inbox.next_seq(), 4001u);
  } // like a crash: nothing retired
  Inbox next({dir.path / "inbox", false});
  ASSERT_EQ(next.adopted().size(), 1u);
  std::set<std::string> ids;
  for (auto &line : Inbox::read_segment(next.adopted()[0].path))
    ids.insert(line.msg_id);
  EXPECT_EQ(ids.size(), 4000u);
  next.retire(next.adopted()[0].id);
  EXPECT_EQ(files(dir.path / "inbox"), 1u); // the new process's own segment
}

TEST(Inbox, ATornLastLineIsSkippedAndCancelsAreRead) {
  TempDir dir;
  std::filesystem::path segment;
  {
    Inbox inbox({dir.path, false});
    inbox.append(entry(1));
    inbox.append(entry(2));
    inbox.append(R"({"c":"c2"})");
    segment = inbox.segments().back().path;
  }
  std::ofstream(segment, std::ios::app) << R"({"m":"m3","s":{"corr)"; // the process died mid-write
  auto lines = Inbox::read_segment(segment);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].msg_id, "m1");
  EXPECT_EQ(lines[2].cancels, "c2");
}

TEST(Inbox, SealingStartsANewSegmentAndOnlySealedOnesAreRetired) {
  TempDir dir;
  Inbox inbox({dir.path, false});
  inbox.seal_current(); // empty: nothing to seal
  ASSERT_EQ(inbox.segments().size(), 1u);
  auto t = inbox.append(entry(1));
  EXPECT_EQ(inbox.segments()[0].unresolved, 1u);
  inbox.resolve(t);
  inbox.retire(inbox.segments()[0].id); // current: kept
  EXPECT_EQ(inbox.segments().size(), 1u);
  inbox.seal_current();
  auto segments = inbox.segments();
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_TRUE(segments[0].sealed);
  EXPECT_EQ(segments[0].last_seq, 1u);
  EXPECT_EQ(segments[0].unresolved, 0u);
  inbox.retire(segments[0].id);
  EXPECT_FALSE(std::filesystem::exists(segments[0].path));
}

TEST(Inbox, FsyncModeWritesAndReadsBack) {
  TempDir dir;
  std::filesystem::path segment;
  {
    Inbox inbox({dir.path, true});
    for (int i = 0; i < 20; ++i)
      inbox.append(entry(i));
    segment = inbox.segments().back().path;
  }
  EXPECT_EQ(Inbox::read_segment(segment).size(), 20u);
}

TEST(Inbox, AnEmptySegmentLeavesNoFile) {
  TempDir dir;
  { Inbox inbox({dir.path, false}); }
  EXPECT_EQ(files(dir.path), 0u);
}

TEST(InboxBus, ASignalIsInTheInboxBeforeItIsDeliveredAndA503IsCancelled) {
  TempDir dir;
  Inbox inbox({dir.path, false});
  auto bus = make_embedded_bus({16});
  std::vector<std::string> seen_in_inbox;
  std::filesystem::path segment = inbox.segments().back().path;
  bus->subscribe({"check", {Subject::signals_normalized}}, [&](const Delivery &d) {
    // By the time anyone sees the signal, its line is in the file.
    for (auto &line : Inbox::read_segment(segment))
      if (line.msg_id == d.message.msg_id)
        seen_in_inbox.push_back(line.msg_id);
  });
  bus->start();
  InboxBus gateway_bus(*bus, inbox);
  Signal s;
  s.corr_id = "test_1";
  s.instrument = "AAPL";
  s.action = 1;
  ASSERT_EQ(gateway_bus.publish(Message{Subject::signals_normalized, s, "req-1"}, std::chrono::seconds(1)),
            PublishStatus::ok);
  ASSERT_TRUE(bus->wait_idle(std::chrono::seconds(5)));
  EXPECT_EQ(seen_in_inbox, std::vector<std::string>{"req-1"});
  EXPECT_EQ(gateway_bus.last_published().corr_id, "test_1");
  bus->stop(); // publishes are refused now: the entry written first is cancelled
  s.corr_id = "test_2";
  EXPECT_EQ(gateway_bus.publish(Message{Subject::signals_normalized, s, "req-2"}, std::chrono::seconds(1)),
            PublishStatus::unavailable);
  auto lines = Inbox::read_segment(segment);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(signal_from_json(nlohmann::json::parse(lines[1].signal)).corr_id, "test_2");
  EXPECT_EQ(lines[2].cancels, "test_2");
  EXPECT_EQ(inbox.segments().back().unresolved, 0u);
}

} // namespace
} // namespace th
