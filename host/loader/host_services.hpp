// What the host offers plugin instances (the th_host_api table), as a C++ interface the
// pipeline implements. plugin_instance.cpp adapts the C table to it. Every method may be called
// from any thread.
#pragma once

#include <tradehost/plugin.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace th {

// Who is calling: fixed for the life of an instance.
struct InstanceContext {
  std::string instance_id; // agent id, risk/executor/sink id
  std::string plugin_name;
  std::string plugin_version;
  int32_t kind = 0;
};

class HostServices {
public:
  virtual ~HostServices() = default;
  virtual void log(const InstanceContext &, int32_t level, std::string_view corr_id,
                   std::string_view message);
  virtual int64_t now_ns();
  virtual th_status emit_order_intent(const InstanceContext &, const th_order_intent &) {
    return TH_UNSUPPORTED;
  }
  virtual th_status emit_fill(const InstanceContext &, const th_fill &) { return TH_UNSUPPORTED; }
  virtual th_status emit_reconcile(const InstanceContext &, const th_reconcile &) { return TH_UNSUPPORTED; }
  virtual th_status get_position(const InstanceContext &, std::string_view agent_id,
                                 std::string_view instrument, th_position &out);
  virtual th_status metric(const InstanceContext &, int32_t type, std::string_view name,
                           const th_label *labels, size_t label_count, double value);
  virtual th_status emit_audit(const InstanceContext &, std::string_view event_type, std::string_view corr_id,
                               std::string_view data_json) {
    (void)event_type, (void)corr_id, (void)data_json;
    return TH_UNSUPPORTED;
  }
  // ABI 1.1, audit sinks (the audit stage implements them).
  virtual th_status report_sink_state(const InstanceContext &, int32_t state, std::string_view reason) {
    (void)state, (void)reason;
    return TH_UNSUPPORTED;
  }
  virtual th_status durable_up_to(const InstanceContext &, uint64_t sequence) {
    (void)sequence;
    return TH_UNSUPPORTED;
  }
  // ABI 1.1: the host's trading state (TH_TRADING_*), for every kind.
  virtual int32_t trading_state(const InstanceContext &) { return TH_TRADING_ACTIVE; }
};

} // namespace th
