// What a stage published, for the stage tests: a subscription to some subjects on the bus the
// stage publishes to, read once the bus has delivered everything (wait_idle(), never a sleep).
#pragma once

#include "bus/bus.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <vector>

namespace th::testing {

class PublishedMessages {
public:
  // Subscribes before the bus starts.
  PublishedMessages(Bus &bus, std::vector<Subject> subjects) : bus_(bus) {
    bus.subscribe({"published", std::move(subjects)}, [this](const Delivery &d) {
      std::lock_guard lock(mutex_);
      messages_.push_back(d.message);
    });
  }

  // Everything published so far, in order.
  std::vector<Message> all() {
    EXPECT_TRUE(bus_.wait_idle(std::chrono::seconds(10)));
    std::lock_guard lock(mutex_);
    return messages_;
  }

private:
  Bus &bus_;
  std::mutex mutex_;
  std::vector<Message> messages_;
};

} // namespace th::testing
