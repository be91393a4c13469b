// The bus as the gateway sees it when its acceptances must survive a crash: a signal is first
// appended to the inbox (bus/inbox.hpp), then published on the bus underneath. A publish that
// fails after the append is cancelled in the inbox, so a 503 is never republished. Everything
// else (subscriptions, other subjects) goes straight to the bus underneath.
#pragma once

#include "bus/bus.hpp"
#include "bus/inbox.hpp"

#include <mutex>
#include <string>

namespace th {

class InboxBus final : public Bus {
public:
  InboxBus(Bus &inner, Inbox &inbox) : inner_(inner), inbox_(inbox) {}

  void subscribe(const SubscriptionSpec &spec, Handler handler) override {
    inner_.subscribe(spec, std::move(handler));
  }
  void declare_consumer(const SubscriptionSpec &spec) override { inner_.declare_consumer(spec); }
  void start() override { inner_.start(); }
  PublishStatus publish(const Message &message, std::chrono::milliseconds timeout) override;
  bool wait_idle(std::chrono::milliseconds timeout) override { return inner_.wait_idle(timeout); }
  bool wait_settled(std::chrono::milliseconds timeout) override { return inner_.wait_settled(timeout); }
  void stop() override { inner_.stop(); }
  BusHealth health() const override; // the bus underneath's, with the inbox's problem if any
  std::shared_ptr<KeyValue> key_value(const std::string &name, std::chrono::seconds ttl) override {
    return inner_.key_value(name, ttl);
  }

  // The most recent signal whose publish succeeded (seq 0: none yet): what the retirer looks
  // for in the trail to know that everything handed to the sinks before it is committed.
  struct Published {
    uint64_t seq = 0;
    std::string corr_id;
  };
  Published last_published() const;

  // The inbox line for a signal message: {"m":msg_id,"s":signal JSON}.
  static void encode(const Message &message, std::string &line);

private:
  Bus &inner_;
  Inbox &inbox_;
  mutable std::mutex published_mutex_;
  Published last_;
};

} // namespace th
