// The sequential bus (bus/sequential_bus): delivery on the publishing thread, in publish order,
// to subscribers in subscription order, breadth first (a handler's publishes after the message
// it handles), nothing before start(), a failing handler not stopping the others, and nothing
// accepted after stop(). What `tradehost replay` relies on for the same output every run.
#include "bus/sequential_bus.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace th {
namespace {

Message signal(const std::string &corr_id) {
  Signal s;
  s.corr_id = corr_id;
  s.instrument = "BTC/USDT";
  s.action = TH_SIGNAL_BUY;
  return Message{Subject::signals_normalized, s, {}};
}

Message fill(const std::string &corr_id) {
  Fill f;
  f.corr_id = corr_id;
  f.fill_id = corr_id + "-fill";
  f.instrument = "BTC/USDT";
  return Message{Subject::executions_fill, f, {}};
}

TEST(SequentialBus, DeliversOnThePublishingThreadInSubscriptionOrder) {
  auto bus = make_sequential_bus();
  std::vector<std::string> seen;
  std::vector<std::thread::id> threads;
  for (const char *name : {"first", "second", "third"})
    bus->subscribe({name, {Subject::signals_normalized}}, [&, name](const Delivery &d) {
      seen.push_back(std::string(name) + ":" + corr_id_of(d.message));
      threads.push_back(std::this_thread::get_id());
      EXPECT_FALSE(d.redelivered);
      EXPECT_FALSE(d.defer); // nothing to acknowledge: a returned handler is done
    });
  bus->start();
  ASSERT_EQ(bus->publish(signal("a")), PublishStatus::ok);
  // Delivered before publish() returned: no wait_idle() needed.
  EXPECT_EQ(seen, (std::vector<std::string>{"first:a", "second:a", "third:a"}));
  ASSERT_EQ(bus->publish(signal("b")), PublishStatus::ok);
  EXPECT_EQ(seen,
            (std::vector<std::string>{"first:a", "second:a", "third:a", "first:b", "second:b", "third:b"}));
  for (auto id : threads)
    EXPECT_EQ(id, std::this_thread::get_id());
}

TEST(SequentialBus, HandlersPublishesComeAfterTheMessageTheyHandle) {
  auto bus = make_sequential_bus();
  std::vector<std::string> seen;
  bus->subscribe({"agent", {Subject::signals_normalized}}, [&](const Delivery &d) {
    const std::string corr = corr_id_of(d.message);
    seen.push_back("agent:" + corr);
    bus->publish(fill(corr)); // queued: the other subscribers of the signal see it first
    seen.push_back("agent-returned:" + corr);
  });
  bus->subscribe({"audit", {Subject::signals_normalized, Subject::executions_fill}}, [&](const Delivery &d) {
    seen.push_back(std::string("audit:") +
                   (d.message.subject == Subject::executions_fill ? "fill:" : "signal:") +
                   corr_id_of(d.message));
  });
  bus->start();
  bus->publish(signal("s1"));
  EXPECT_EQ(seen,
            (std::vector<std::string>{"agent:s1", "agent-returned:s1", "audit:signal:s1", "audit:fill:s1"}));
}

TEST(SequentialBus, MessagesBeforeStartWaitForIt) {
  auto bus = make_sequential_bus();
  std::vector<std::string> seen;
  bus->subscribe({"only", {Subject::signals_normalized}},
                 [&](const Delivery &d) { seen.push_back(corr_id_of(d.message)); });
  EXPECT_EQ(bus->publish(signal("early-1")), PublishStatus::ok);
  EXPECT_EQ(bus->publish(signal("early-2")), PublishStatus::ok);
  EXPECT_TRUE(seen.empty());
  bus->start();
  EXPECT_TRUE(seen.empty());                            // start() itself delivers nothing...
  EXPECT_TRUE(bus->wait_idle(std::chrono::seconds(5))); // ...the next drain does, in order
  EXPECT_EQ(seen, (std::vector<std::string>{"early-1", "early-2"}));
}

TEST(SequentialBus, OnlySubscribedSubjectsAreDelivered) {
  auto bus = make_sequential_bus();
  int signals = 0, fills = 0;
  bus->subscribe({"signals", {Subject::signals_normalized}}, [&](const Delivery &) { ++signals; });
  bus->subscribe({"fills", {Subject::executions_fill}}, [&](const Delivery &) { ++fills; });
  bus->start();
  bus->publish(signal("a"));
  bus->publish(fill("a"));
  bus->publish(fill("b"));
  EXPECT_EQ(bus->publish(Message{Subject::decisions_rejected, Rejection{}, {}}), PublishStatus::ok); // nobody
  EXPECT_EQ(signals, 1);
  EXPECT_EQ(fills, 2);
}

TEST(SequentialBus, AFailingHandlerDoesNotStopTheOthersOrLaterMessages) {
  auto bus = make_sequential_bus();
  std::vector<std::string> seen;
  bus->subscribe({"failing", {Subject::signals_normalized}}, [&](const Delivery &d) {
    if (corr_id_of(d.message) == "bad")
      throw std::runtime_error("handler refuses");
    seen.push_back("failing:" + corr_id_of(d.message));
  });
  bus->subscribe({"after", {Subject::signals_normalized}},
                 [&](const Delivery &d) { seen.push_back("after:" + corr_id_of(d.message)); });
  bus->start();
  EXPECT_EQ(bus->publish(signal("bad")), PublishStatus::ok);
  EXPECT_EQ(bus->publish(signal("good")), PublishStatus::ok);
  EXPECT_EQ(seen, (std::vector<std::string>{"after:bad", "failing:good", "after:good"}));
}

TEST(SequentialBus, RefusesDuplicateDurablesAndLateSubscriptions) {
  auto bus = make_sequential_bus();
  bus->subscribe({"one", {Subject::signals_normalized}}, [](const Delivery &) {});
  EXPECT_THROW(bus->subscribe({"one", {Subject::executions_fill}}, [](const Delivery &) {}),
               std::runtime_error);
  bus->start();
  EXPECT_THROW(bus->subscribe({"two", {Subject::executions_fill}}, [](const Delivery &) {}),
               std::runtime_error);
}

TEST(SequentialBus, StopDrainsThenRefuses) {
  auto bus = make_sequential_bus();
  std::vector<std::string> seen;
  bus->subscribe({"only", {Subject::signals_normalized}},
                 [&](const Delivery &d) { seen.push_back(corr_id_of(d.message)); });
  bus->publish(signal("queued")); // before start: waits
  bus->start();
  bus->stop(); // delivers what is queued first
  EXPECT_EQ(seen, (std::vector<std::string>{"queued"}));
  EXPECT_EQ(bus->publish(signal("late")), PublishStatus::unavailable);
  EXPECT_EQ(seen.size(), 1u);
}

TEST(SequentialBus, HealthListsEverySubscriptionAsEmbedded) {
  auto bus = make_sequential_bus();
  bus->subscribe({"a", {Subject::signals_normalized}}, [](const Delivery &) {});
  bus->subscribe({"b", {Subject::executions_fill}}, [](const Delivery &) {});
  bus->publish(signal("waiting")); // not started: one queued
  BusHealth health = bus->health();
  EXPECT_EQ(health.state, "embedded");
  ASSERT_EQ(health.consumers.size(), 2u);
  EXPECT_EQ(health.consumers[0].durable, "a");
  EXPECT_EQ(health.consumers[1].durable, "b");
  EXPECT_EQ(health.consumers[0].num_pending, 1u);
  EXPECT_TRUE(health.consumers[0].healthy);
  EXPECT_TRUE(health.problem.empty());
}

} // namespace
} // namespace th
