// Test harness that loads one plugin .so with dlopen and drives it through the real C ABI,
// with a recording host: emitted intents, fills, reconciles, rejections, audits, metrics and
// logs are captured for assertions. Independent of the host's loader so plugin tests stand alone.
#pragma once

#include <tradehost/plugin.h>

#include <dlfcn.h>

#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace th::test {

inline std::string s(th_str v) {
  return v.len ? std::string(v.ptr, v.len) : std::string();
}

struct Emitted {
  std::string corr_id, agent_id, instrument, parent_corr_id, extra_json, strategy;
  int32_t side = 0, order_type = 0, time_in_force = 0, fill_status = 0;
  uint32_t flags = 0;
  double quantity = 0, price_limit = 0, stop_price = 0, max_position = 0, stop_loss = 0, take_profit = 0;
  double avg_fill_price = 0, quantity_requested = 0, commission = 0, exchange_fee = 0, regulatory_fee = 0,
         slippage_bps = 0;
  std::string fill_id, order_id, rejection_reason, execution_venue;
  int64_t timestamp_ns = 0;
};

struct RecordingHost {
  std::mutex mutex;
  std::vector<th_order_intent> raw_intents_unused;
  std::vector<Emitted> intents, fills;
  std::vector<std::pair<std::string, std::string>> rejections; // (rule, reason) of the last checks
  std::vector<std::pair<std::string, std::string>> audits;     // (event_type, data_json)
  std::vector<std::string> logs;
  std::map<std::string, double> metrics;                                // "name{k=v,...}" -> sum / last value
  std::map<std::pair<std::string, std::string>, th_position> positions; // (agent, instrument)
  int64_t now = 1736937000000000000;                                    // 2025-01-15T10:30:00Z
  int32_t trading_state = TH_TRADING_ACTIVE;                            // ABI 1.1 trading_state()
};

struct th_host_impl {
  RecordingHost *rec;
};

inline RecordingHost &rec(th_host *h) {
  return *reinterpret_cast<th_host_impl *>(h)->rec;
}

inline th_host_api make_api() {
  th_host_api api{};
  api.struct_size = sizeof api;
  api.abi_major = TH_ABI_VERSION_MAJOR;
  api.abi_minor = TH_ABI_VERSION_MINOR;
  api.log = [](th_host *h, int32_t, th_str, th_str m) {
    std::lock_guard l(rec(h).mutex);
    rec(h).logs.push_back(s(m));
  };
  api.now_ns = [](th_host *h) { return rec(h).now; };
  api.emit_order_intent = [](th_host *h, const th_order_intent *i) -> th_status {
    Emitted e;
    e.corr_id = s(i->corr_id), e.agent_id = s(i->agent_id), e.instrument = s(i->instrument);
    e.parent_corr_id = s(i->parent_corr_id), e.extra_json = s(i->extra_json), e.strategy = s(i->strategy);
    e.side = i->side, e.order_type = i->order_type, e.time_in_force = i->time_in_force, e.flags = i->flags;
    e.quantity = i->quantity, e.price_limit = i->price_limit, e.stop_price = i->stop_price;
    e.max_position = i->max_position, e.stop_loss = i->stop_loss, e.take_profit = i->take_profit;
    e.timestamp_ns = i->timestamp_ns;
    std::lock_guard l(rec(h).mutex);
    rec(h).intents.push_back(e);
    return TH_OK;
  };
  api.emit_fill = [](th_host *h, const th_fill *f) -> th_status {
    Emitted e;
    e.corr_id = s(f->corr_id), e.agent_id = s(f->agent_id), e.instrument = s(f->instrument);
    e.parent_corr_id = s(f->parent_corr_id), e.extra_json = s(f->extra_json);
    e.fill_id = s(f->fill_id), e.order_id = s(f->order_id), e.rejection_reason = s(f->rejection_reason);
    e.execution_venue = s(f->execution_venue);
    e.side = f->side, e.fill_status = f->fill_status, e.quantity = f->quantity_filled;
    e.quantity_requested = f->quantity_requested, e.avg_fill_price = f->avg_fill_price;
    e.commission = f->commission, e.exchange_fee = f->exchange_fee, e.regulatory_fee = f->regulatory_fee;
    e.slippage_bps = f->slippage_bps, e.timestamp_ns = f->fill_timestamp_ns;
    std::lock_guard l(rec(h).mutex);
    rec(h).fills.push_back(e);
    return TH_OK;
  };
  api.emit_reconcile = [](th_host *, const th_reconcile *) -> th_status { return TH_OK; };
  api.get_position = [](th_host *h, th_str agent, th_str instrument, th_position *out) -> th_status {
    std::lock_guard l(rec(h).mutex);
    uint32_t size = out->struct_size;
    th_position p{};
    auto it = rec(h).positions.find({s(agent), s(instrument)});
    if (it != rec(h).positions.end())
      p = it->second;
    p.struct_size = size;
    std::memcpy(out, &p, size < sizeof p ? size : sizeof p);
    return TH_OK;
  };
  api.metric = [](th_host *h, int32_t type, th_str name, const th_label *labels, size_t n,
                  double v) -> th_status {
    std::string key = s(name) + "{";
    for (size_t i = 0; i < n; ++i)
      key += (i ? "," : "") + s(labels[i].name) + "=" + s(labels[i].value);
    key += "}";
    std::lock_guard l(rec(h).mutex);
    if (type == TH_METRIC_GAUGE)
      rec(h).metrics[key] = v;
    else
      rec(h).metrics[key] += type == TH_METRIC_HISTOGRAM ? 1 : v; // histograms: count observations
    return TH_OK;
  };
  api.reject_order = [](th_host *h, th_str rule, th_str reason) -> th_status {
    std::lock_guard l(rec(h).mutex);
    rec(h).rejections.emplace_back(s(rule), s(reason));
    return TH_OK;
  };
  api.emit_audit = [](th_host *h, th_str type, th_str, th_str data) -> th_status {
    std::lock_guard l(rec(h).mutex);
    rec(h).audits.emplace_back(s(type), s(data));
    return TH_OK;
  };
  api.trading_state = [](th_host *h) -> int32_t {
    std::lock_guard l(rec(h).mutex);
    return rec(h).trading_state;
  };
  return api;
}

// One loaded plugin library and one instance of it.
class PluginHarness {
public:
  // path: the .so; params: JSON text. Throws std::runtime_error with last_error() when create fails.
  PluginHarness(const std::string &path, const std::string &params) : api_(make_api()) {
    host_.rec = &recorder;
    lib_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib_)
      throw std::runtime_error(std::string("dlopen: ") + dlerror());
    auto entry = reinterpret_cast<th_plugin_entry_fn>(dlsym(lib_, TH_PLUGIN_ENTRY_SYMBOL));
    if (!entry)
      throw std::runtime_error("no entry symbol in " + path);
    d = entry();
    th_status st = TH_OK;
    inst = d->create(&api_, reinterpret_cast<th_host *>(&host_), th_str{params.data(), params.size()}, &st);
    if (st != TH_OK) {
      std::string err = inst ? s(d->last_error(inst)) : "create returned null";
      if (inst)
        d->destroy(inst);
      inst = nullptr;
      throw std::runtime_error(err);
    }
    if (d->start)
      d->start(inst);
  }
  ~PluginHarness() {
    if (inst) {
      if (d->stop)
        d->stop(inst);
      d->destroy(inst);
    }
    // The library stays mapped: tests may keep descriptors and strings from it.
  }
  PluginHarness(const PluginHarness &) = delete;
  PluginHarness &operator=(const PluginHarness &) = delete;

  std::string error() const { return s(d->last_error(inst)); }

  const th_plugin_descriptor *d = nullptr;
  th_instance *inst = nullptr;
  RecordingHost recorder;

private:
  th_host_api api_;
  th_host_impl host_{};
  void *lib_ = nullptr;
};

// A th_signal over strings the caller keeps alive.
inline th_signal make_signal(const std::string &corr_id, const std::string &instrument, int32_t action,
                             double strength, double price, int64_t ts_ns = 1736937000000000000) {
  th_signal sig{};
  sig.struct_size = sizeof sig;
  sig.flags = TH_SIGNAL_HAS_PRICE;
  sig.corr_id = {corr_id.data(), corr_id.size()};
  sig.instrument = {instrument.data(), instrument.size()};
  sig.action = action;
  sig.strength = strength;
  sig.price = price;
  sig.timestamp_ns = ts_ns;
  return sig;
}

} // namespace th::test
