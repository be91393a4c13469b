#include "observability/metrics.hpp"

#include <tradehost/plugin.h>

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace th {
namespace {
template <class Builder>
auto &family(Builder &&b, prometheus::Registry &r, const char *name, const char *help,
             std::vector<std::tuple<std::string, std::string, std::string>> &declared) {
  using T = std::decay_t<decltype(b.Name(name).Help(help).Register(r))>;
  const char *type = std::is_same_v<T, prometheus::Family<prometheus::Histogram>> ? "histogram"
                     : std::is_same_v<T, prometheus::Family<prometheus::Gauge>>   ? "gauge"
                                                                                  : "counter";
  declared.emplace_back(name, help, type);
  return b.Name(name).Help(help).Register(r);
}
// Prometheus name rules, checked once per metric name (this runs on plugins' hot paths).
bool valid_name(const std::string &n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0])))
    return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  });
}
bool valid_label(const std::string &n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0])) || n.rfind("__", 0) == 0)
    return false;
  return std::all_of(n.begin(), n.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}
} // namespace

struct Metrics::Dynamic {
  int32_t type = 0;
  std::vector<std::string> label_names;
  prometheus::Family<prometheus::Counter> *counter = nullptr;
  prometheus::Family<prometheus::Gauge> *gauge = nullptr;
  prometheus::Family<prometheus::Histogram> *histogram = nullptr;
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()), declared_(),
      gateway_webhooks_received(family(prometheus::BuildCounter(), *registry_,
                                       "gateway_webhooks_received_total",
                                       "Webhooks received by source and status", declared_)),
      gateway_validation_errors(family(prometheus::BuildCounter(), *registry_,
                                       "gateway_validation_errors_total", "Webhook validation errors by type",
                                       declared_)),
      gateway_request_duration(family(prometheus::BuildHistogram(), *registry_,
                                      "gateway_request_duration_seconds", "HTTP request duration by endpoint",
                                      declared_)),
      gateway_rate_limit_exceeded(family(prometheus::BuildCounter(), *registry_,
                                         "gateway_rate_limit_exceeded_total",
                                         "Requests refused by rate limit", declared_)),
      gateway_replay_attacks_blocked(
          family(prometheus::BuildCounter(), *registry_, "gateway_replay_attacks_blocked_total",
                 "Webhooks refused as replays (stale timestamp or reused nonce)", declared_)),
      agent_signals_received(family(prometheus::BuildCounter(), *registry_, "agent_signals_received_total",
                                    "Signals delivered to agents by signal type", declared_)),
      agent_decisions_made(family(prometheus::BuildCounter(), *registry_, "agent_decisions_made_total",
                                  "Order intents emitted by strategy", declared_)),
      agent_decision_latency(family(prometheus::BuildHistogram(), *registry_,
                                    "agent_decision_latency_seconds", "Time a strategy takes per signal",
                                    declared_)),
      agent_risk_checks_failed(family(prometheus::BuildCounter(), *registry_,
                                      "agent_risk_checks_failed_total",
                                      "Order intents rejected by the risk chain, by rule", declared_)),
      audit_events(family(prometheus::BuildCounter(), *registry_, "audit_events_total",
                          "Audit events handed to audit sinks by type", declared_)),
      audit_hash_validations(family(prometheus::BuildCounter(), *registry_, "audit_hash_validations_total",
                                    "Audit chain hash validations by status", declared_)),
      plugin_events(family(prometheus::BuildCounter(), *registry_, "tradehost_plugin_events_total",
                           "Plugin library loads, refusals, unloads and swaps", declared_)),
      unknown_fields(family(prometheus::BuildCounter(), *registry_, "gateway_unknown_fields_total",
                            "Unknown signal fields accepted and passed on, by field name", declared_)),
      bus_published(family(prometheus::BuildCounter(), *registry_, "tradehost_bus_published_total",
                           "Messages published on the bus by subject", declared_)),
      audit_sink_available(family(prometheus::BuildGauge(), *registry_, "audit_sink_available",
                                  "1 while the audit sink stores events, 0 while it cannot (intents are "
                                  "then rejected with audit_unavailable)",
                                  declared_)),
      trading_state(family(prometheus::BuildGauge(), *registry_, "tradehost_trading_state",
                           "The host's trading state: 1 for the current state (active, reducing, halted), 0 "
                           "for the others",
                           declared_)),
      position(family(prometheus::BuildGauge(), *registry_, "tradehost_position",
                      "Net position (signed quantity) per agent and instrument, as of the scrape",
                      declared_)),
      realized_pnl(family(prometheus::BuildGauge(), *registry_, "tradehost_realized_pnl",
                          "Realized PnL since the record began, per agent and instrument", declared_)),
      unrealized_pnl(family(prometheus::BuildGauge(), *registry_, "tradehost_unrealized_pnl",
                            "Unrealized PnL at the last price seen, per agent and instrument", declared_)),
      consumer_pending(family(prometheus::BuildGauge(), *registry_, "tradehost_consumer_pending",
                              "Messages waiting for a consumer: JetStream num_pending (its lag) or the "
                              "embedded queue's depth, per durable",
                              declared_)) {
  for (const char *status : {"valid", "tampered", "unreadable"}) // GET /audit/verify's outcomes, from zero
    audit_hash_validations.Add({{"status", status}});
}

void Metrics::on_collect(std::function<void()> refresh) {
  std::lock_guard lock(collect_mutex_);
  collectors_.push_back(std::move(refresh));
}

const prometheus::Histogram::BucketBoundaries &Metrics::latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                                         0.001,   0.0025,   0.005,   0.01,   0.025,   0.05,
                                                         0.1,     0.25,     0.5,     1,      2.5};
  return b;
}

bool Metrics::plugin_metric(int32_t type, const std::string &name,
                            const std::vector<std::pair<std::string, std::string>> &labels, double value) {
  std::lock_guard lock(mutex_);
  auto &slot = dynamic_[name];
  if (!slot) { // first use: validate and register; later uses only compare
    auto d = std::make_shared<Dynamic>();
    d->type = type;
    for (auto &[k, v] : labels)
      d->label_names.push_back(k);
    bool ok = valid_name(name) && std::all_of(d->label_names.begin(), d->label_names.end(), valid_label);
    try {
      switch (ok ? type : 0) {
      case TH_METRIC_COUNTER:
        d->counter = &prometheus::BuildCounter().Name(name).Help("plugin metric").Register(*registry_);
        break;
      case TH_METRIC_GAUGE:
        d->gauge = &prometheus::BuildGauge().Name(name).Help("plugin metric").Register(*registry_);
        break;
      case TH_METRIC_HISTOGRAM:
        d->histogram = &prometheus::BuildHistogram().Name(name).Help("plugin metric").Register(*registry_);
        break;
      default:
        ok = false;
      }
    } catch (const std::exception &) { // the name is taken by a host family
      ok = false;
    }
    if (!ok) {
      dynamic_.erase(name);
      return false;
    }
    slot = d;
  }
  if (slot->type != type || slot->label_names.size() != labels.size())
    return false;
  std::map<std::string, std::string> label_map;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].first != slot->label_names[i])
      return false;
    label_map.emplace(labels[i].first, labels[i].second);
  }
  switch (type) {
  case TH_METRIC_COUNTER:
    if (value < 0)
      return false;
    slot->counter->Add(label_map).Increment(value);
    break;
  case TH_METRIC_GAUGE:
    slot->gauge->Add(label_map).Set(value);
    break;
  case TH_METRIC_HISTOGRAM: {
    // Buckets cover both small (latency in seconds) and large (bps) observations.
    static const prometheus::Histogram::BucketBoundaries b{0.0001, 0.001, 0.01, 0.1, 0.5, 1,   2,
                                                           5,      10,    25,   50,  100, 250, 1000};
    slot->histogram->Add(label_map, b).Observe(value);
    break;
  }
  }
  return true;
}

std::string Metrics::serialize() const {
  {
    std::lock_guard lock(collect_mutex_); // one scrape refreshes at a time
    for (const auto &refresh : collectors_)
      refresh();
  }
  // prometheus-cpp leaves out families without samples; the contract's names must always be
  // there, so a declared family without samples is written as HELP and TYPE lines alone.
  auto families = registry_->Collect();
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  for (const auto &[name, help, type] : declared_) {
    bool present = false;
    for (const auto &f : families)
      if (f.name == name && !f.metric.empty())
        present = true;
    if (!present)
      out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  return out.str();
}

} // namespace th
