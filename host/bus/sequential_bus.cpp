#include "bus/sequential_bus.hpp"

#include "observability/log.hpp"

#include <array>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace th {
namespace {

class SequentialBus final : public Bus {
public:
  void subscribe(const SubscriptionSpec &spec, Handler handler) override {
    std::lock_guard lock(mutex_);
    if (started_)
      throw std::runtime_error("subscribe after start: " + spec.durable);
    for (const auto &s : subscriptions_)
      if (s.durable == spec.durable)
        throw std::runtime_error("durable name already subscribed: " + spec.durable);
    size_t index = subscriptions_.size();
    subscriptions_.push_back({spec.durable, std::move(handler), 0});
    for (Subject subject : spec.subjects)
      by_subject_[static_cast<size_t>(subject)].push_back(index);
  }

  void start() override {
    std::lock_guard lock(mutex_);
    started_ = true;
  }

  PublishStatus publish(const Message &message, std::chrono::milliseconds) override {
    {
      std::lock_guard lock(mutex_);
      if (stopped_)
        return PublishStatus::unavailable;
      queue_.push_back(message);
    }
    drain();
    return PublishStatus::ok;
  }

  bool wait_idle(std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      drain();
      std::lock_guard lock(mutex_);
      if (queue_.empty() && !dispatching_)
        return true;
      if (std::chrono::steady_clock::now() > deadline)
        return false;
      std::this_thread::yield();
    }
  }

  void stop() override {
    wait_idle(std::chrono::seconds(30));
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }

  BusHealth health() const override {
    std::lock_guard lock(mutex_);
    BusHealth h{"embedded", {}, {}};
    for (const auto &s : subscriptions_)
      h.consumers.push_back({s.durable, "", true, queue_.size(), 0});
    return h;
  }

private:
  struct Subscription {
    std::string durable;
    Handler handler;
    uint64_t delivered;
  };

  // Delivers until the queue is empty, unless another thread is already delivering (it will
  // pick up what was queued) or this thread is inside a handler (its caller continues the loop).
  void drain() {
    std::unique_lock lock(mutex_);
    if (dispatching_ || !started_)
      return;
    dispatching_ = true;
    while (!queue_.empty()) {
      Message message = std::move(queue_.front());
      queue_.pop_front();
      const auto &targets = by_subject_[static_cast<size_t>(message.subject)];
      lock.unlock();
      for (size_t index : targets) {
        try {
          subscriptions_[index].handler(Delivery{message, false});
        } catch (const std::exception &e) {
          log::error("handler_failed", {{"durable", subscriptions_[index].durable}, {"reason", e.what()}},
                     corr_id_of(message));
        }
      }
      lock.lock();
    }
    dispatching_ = false;
  }

  mutable std::mutex mutex_;
  std::vector<Subscription> subscriptions_;
  std::array<std::vector<size_t>, subject_count> by_subject_;
  std::deque<Message> queue_;
  bool started_ = false, stopped_ = false, dispatching_ = false;
};

} // namespace

std::unique_ptr<Bus> make_sequential_bus() {
  return std::make_unique<SequentialBus>();
}

} // namespace th
