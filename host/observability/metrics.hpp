// Prometheus metrics: the contract's families (docs/contract.md) are registered up front so
// their names always exist; plugins add their own through the host's metric() service.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace th {

class Metrics {
  std::shared_ptr<prometheus::Registry> registry_; // first: the families below refer into it
  std::vector<std::tuple<std::string, std::string, std::string>> declared_; // (name, help, type)

public:
  Metrics();

  prometheus::Registry &registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> registry_ptr() { return registry_; }

  // Contract families.
  prometheus::Family<prometheus::Counter> &gateway_webhooks_received;   // {source,status}
  prometheus::Family<prometheus::Counter> &gateway_validation_errors;   // {type}
  prometheus::Family<prometheus::Histogram> &gateway_request_duration;  // {endpoint}
  prometheus::Family<prometheus::Counter> &gateway_rate_limit_exceeded; // {client}
  prometheus::Family<prometheus::Counter> &gateway_replay_attacks_blocked;
  prometheus::Family<prometheus::Counter> &agent_signals_received;   // {signal_type}
  prometheus::Family<prometheus::Counter> &agent_decisions_made;     // {strategy}
  prometheus::Family<prometheus::Histogram> &agent_decision_latency; // {strategy}
  prometheus::Family<prometheus::Counter> &agent_risk_checks_failed; // {reason}
  prometheus::Family<prometheus::Counter> &audit_events;             // {event_type}
  prometheus::Family<prometheus::Counter> &audit_hash_validations;   // {status}
  // Host families beyond the contract.
  prometheus::Family<prometheus::Counter> &plugin_events;  // {plugin,event}: loaded|refused|unloaded|swapped
  prometheus::Family<prometheus::Counter> &unknown_fields; // gateway_unknown_fields_total{field_name}
  prometheus::Family<prometheus::Counter> &bus_published;  // {subject}
  prometheus::Family<prometheus::Gauge> &audit_sink_available; // {sink}: 1 writing, 0 cannot write
  prometheus::Family<prometheus::Gauge> &trading_state;        // tradehost_trading_state{state}: 1 current
  // Set at each scrape by the collectors (on_collect): {agent_id,instrument}, and {durable}.
  prometheus::Family<prometheus::Gauge> &position;
  prometheus::Family<prometheus::Gauge> &realized_pnl;
  prometheus::Family<prometheus::Gauge> &unrealized_pnl;
  prometheus::Family<prometheus::Gauge> &consumer_pending;

  // Runs `refresh` at the start of every serialize(), to set gauges read from elsewhere (the
  // portfolio, the bus). It must outlive this object's last serialize().
  void on_collect(std::function<void()> refresh);

  // Latency buckets in seconds used by the histograms above.
  static const prometheus::Histogram::BucketBoundaries &latency_buckets();

  // The plugin metric() service. Returns false when the name or labels are not valid Prometheus
  // or clash with an earlier use of the name with another type or label set.
  bool plugin_metric(int32_t type, const std::string &name,
                     const std::vector<std::pair<std::string, std::string>> &labels, double value);

  // Prometheus text exposition format.
  std::string serialize() const;

private:
  struct Dynamic;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Dynamic>> dynamic_;
  mutable std::mutex collect_mutex_;
  std::vector<std::function<void()>> collectors_;
};

} // namespace th
