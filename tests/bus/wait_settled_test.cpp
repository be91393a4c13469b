// Bus::wait_settled on the embedded bus: a three-stage cascade (signal -> intent -> fill) under
// continuous load; once wait_settled returns, every descendant of what was published before the
// call has been handled, although the bus is never idle.
#include "bus/embedded_bus.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace th {
namespace {

TEST(EmbeddedBusWaitSettled, CoversTheDescendantsOfEarlierMessagesWhileNewOnesKeepComing) {
  auto bus = make_embedded_bus({256});
  std::mutex mutex;
  std::set<std::string> filled;
  bus->subscribe({"agents", {Subject::signals_normalized}}, [&](const Delivery &d) {
    OrderIntent intent;
    intent.corr_id = std::get<Signal>(d.message.payload).corr_id;
    bus->publish(Message{Subject::decisions_order_intent, intent, intent.corr_id + ":i"});
  });
  bus->subscribe({"exec", {Subject::decisions_order_intent}}, [&](const Delivery &d) {
    Fill fill;
    fill.corr_id = std::get<OrderIntent>(d.message.payload).corr_id;
    bus->publish(Message{Subject::executions_fill, fill, fill.corr_id + ":f"});
  });
  bus->subscribe({"audit", {Subject::executions_fill}}, [&](const Delivery &d) {
    std::lock_guard lock(mutex);
    filled.insert(std::get<Fill>(d.message.payload).corr_id);
  });
  bus->start();
  std::atomic<bool> stop{false};
  std::thread load([&] { // never lets the bus go idle
    for (int i = 0; !stop; ++i) {
      Signal s;
      s.corr_id = "load-" + std::to_string(i);
      bus->publish(Message{Subject::signals_normalized, s, s.corr_id});
    }
  });
  for (int round = 0; round < 5; ++round) {
    Signal s;
    s.corr_id = "marker-" + std::to_string(round);
    ASSERT_EQ(bus->publish(Message{Subject::signals_normalized, s, s.corr_id}), PublishStatus::ok);
    ASSERT_TRUE(bus->wait_settled(std::chrono::seconds(30)));
    std::lock_guard lock(mutex);
    EXPECT_TRUE(filled.count(s.corr_id)) << s.corr_id << "'s fill was not handled when wait_settled returned";
  }
  stop = true;
  load.join();
  bus->stop();
}

} // namespace
} // namespace th
