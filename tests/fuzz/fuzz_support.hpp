// What the fuzz targets share: a bus that checks what it is handed instead of delivering it,
// and the source tree's schema directory.
#pragma once

#include "bus/bus.hpp"
#include "events/json_codec.hpp"

#include <cstdlib>
#include <string>

namespace th::fuzz {

// Every normalized message must encode and decode back: a publish that cannot is a finding.
class CheckingBus final : public Bus {
public:
  void subscribe(const SubscriptionSpec &, Handler) override {}
  void start() override {}
  PublishStatus publish(const Message &message, std::chrono::milliseconds) override {
    nlohmann::json encoded = to_json(message.payload);
    Payload decoded = payload_from_json(message.subject, encoded); // throws: the fuzzer reports it
    if (to_json(decoded) != encoded)
      std::abort();
    return PublishStatus::ok;
  }
  bool wait_idle(std::chrono::milliseconds) override { return true; }
  void stop() override {}
  BusHealth health() const override { return {"embedded", {}, {}}; }
};

inline std::string schema_file(const std::string &name) {
  return std::string(TRADEHOST_SOURCE_DIR) + "/schemas/" + name;
}

} // namespace th::fuzz
