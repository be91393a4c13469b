// The host services every plugin instance gets (log, clock, positions, metrics, audit). Stages
// derive from it to add the emit_* service their kind uses.
#pragma once

#include "bus/bus.hpp"
#include "loader/host_services.hpp"
#include "observability/metrics.hpp"
#include "pipeline/clock.hpp"
#include "pipeline/trading_state.hpp"
#include "portfolio/portfolio.hpp"

#include <array>

namespace th {

// What every stage needs from the process.
struct StageContext {
  Bus &bus;
  Metrics &metrics;
  Portfolio &portfolio;
  Clock &clock;
  const TradingState *trading = nullptr; // the operator's switch; null reads as active
};

class StageServices : public HostServices {
public:
  explicit StageServices(StageContext ctx);

  void log(const InstanceContext &, int32_t level, std::string_view corr_id,
           std::string_view message) override;
  int64_t now_ns() override { return ctx_.clock.now_ns(); }
  th_status get_position(const InstanceContext &, std::string_view agent_id, std::string_view instrument,
                         th_position &out) override;
  th_status metric(const InstanceContext &, int32_t type, std::string_view name, const th_label *labels,
                   size_t label_count, double value) override;
  th_status emit_audit(const InstanceContext &, std::string_view event_type, std::string_view corr_id,
                       std::string_view data_json) override;
  int32_t trading_state(const InstanceContext &) override {
    return ctx_.trading ? ctx_.trading->get() : TH_TRADING_ACTIVE;
  }

protected:
  // Publishes and counts; logs when the bus refuses. Returns TH_UNAVAILABLE then.
  th_status publish(const Message &m);

  StageContext ctx_;
  std::array<prometheus::Counter *, subject_count> published_{}; // cached: no label lookup per event
};

} // namespace th
