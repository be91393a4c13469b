// A plugin instance and the C host-services table. One static th_host_api serves every
// instance; the th_host handle a plugin gets is a per-instance HostHandle saying which
// HostServices and InstanceContext a call belongs to.
#include "loader/plugin_instance.hpp"

#include "events/c_view.hpp"
#include "observability/log.hpp"

#include <cstring>
#include <utility>

namespace th {
namespace {

struct HostHandle {
  HostServices *services;
  const InstanceContext *context;
};

HostHandle *handle_of(th_host *host) {
  return reinterpret_cast<HostHandle *>(host);
}

// Where reject_order() writes while check_order() runs on this thread. A stack of slots, so a
// risk check reached from inside another plugin call on the same thread still finds its own.
struct RejectionSlot {
  const HostHandle *host;
  RejectionSlot *previous;
  bool set = false;
  std::string rule;
  std::string reason;
};
thread_local RejectionSlot *current_rejection = nullptr;

// A view from the plugin; a NULL pointer with a length (a broken plugin) reads as empty.
std::string_view safe_view(th_str s) {
  return s.ptr && s.len ? std::string_view(s.ptr, s.len) : std::string_view();
}

// A struct written by a plugin built against another minor, as a host-sized struct: the
// writer's bytes, zeros past them, and the writer's struct_size kept so that readers
// (assign_from) know which fields were really written. No copy when the writer's struct is at
// least as large as the host's.
template <class T> const T *host_sized(const T *in, T &scratch) {
  if (in->struct_size >= sizeof(T))
    return in;
  scratch = T{};
  std::memcpy(&scratch, in, in->struct_size);
  return &scratch;
}

constexpr uint32_t header_size = 2 * sizeof(uint32_t); // struct_size + flags

// Host services never let an exception unwind into plugin code.
template <class F> th_status guarded_service(th_host *host, const char *service, F &&f) noexcept {
  if (!host)
    return TH_INVALID_ARGUMENT;
  try {
    return f(*handle_of(host));
  } catch (const std::exception &e) {
    try {
      log::error(
          "host_service_failed",
          {{"service", service}, {"instance", handle_of(host)->context->instance_id}, {"error", e.what()}});
    } catch (...) {
    }
  } catch (...) {
  }
  return TH_ERROR;
}

void service_log(th_host *host, int32_t level, th_str corr_id, th_str message) {
  guarded_service(host, "log", [&](HostHandle &h) {
    h.services->log(*h.context, level, safe_view(corr_id), safe_view(message));
    return TH_OK;
  });
}

int64_t service_now_ns(th_host *host) {
  int64_t now = 0;
  guarded_service(host, "now_ns", [&](HostHandle &h) {
    now = h.services->now_ns();
    return TH_OK;
  });
  return now;
}

th_status service_emit_order_intent(th_host *host, const th_order_intent *intent) {
  return guarded_service(host, "emit_order_intent", [&](HostHandle &h) {
    if (!intent || intent->struct_size < header_size)
      return TH_INVALID_ARGUMENT;
    th_order_intent scratch;
    return h.services->emit_order_intent(*h.context, *host_sized(intent, scratch));
  });
}

th_status service_emit_fill(th_host *host, const th_fill *fill) {
  return guarded_service(host, "emit_fill", [&](HostHandle &h) {
    if (!fill || fill->struct_size < header_size)
      return TH_INVALID_ARGUMENT;
    th_fill scratch;
    return h.services->emit_fill(*h.context, *host_sized(fill, scratch));
  });
}

th_status service_emit_reconcile(th_host *host, const th_reconcile *reconcile) {
  return guarded_service(host, "emit_reconcile", [&](HostHandle &h) {
    if (!reconcile || reconcile->struct_size < header_size)
      return TH_INVALID_ARGUMENT;
    th_reconcile scratch;
    return h.services->emit_reconcile(*h.context, *host_sized(reconcile, scratch));
  });
}

th_status service_get_position(th_host *host, th_str agent_id, th_str instrument, th_position *out) {
  return guarded_service(host, "get_position", [&](HostHandle &h) {
    if (!out || out->struct_size < header_size)
      return TH_INVALID_ARGUMENT;
    th_position position{};
    position.struct_size = sizeof position;
    th_status status =
        h.services->get_position(*h.context, safe_view(agent_id), safe_view(instrument), position);
    // Write only what the caller's struct reaches; its struct_size stays its own.
    const uint32_t caller_size = out->struct_size;
    std::memcpy(out, &position, std::min<size_t>(caller_size, sizeof position));
    out->struct_size = caller_size;
    return status;
  });
}

th_status service_metric(th_host *host, int32_t type, th_str name, const th_label *labels, size_t label_count,
                         double value) {
  return guarded_service(host, "metric", [&](HostHandle &h) {
    if (label_count && !labels)
      return TH_INVALID_ARGUMENT;
    return h.services->metric(*h.context, type, safe_view(name), labels, label_count, value);
  });
}

th_status service_reject_order(th_host *host, th_str rule, th_str reason) {
  return guarded_service(host, "reject_order", [&](HostHandle &h) {
    for (RejectionSlot *slot = current_rejection; slot; slot = slot->previous) {
      if (slot->host != &h)
        continue;
      slot->set = true;
      slot->rule.assign(safe_view(rule));
      slot->reason.assign(safe_view(reason));
      return TH_OK;
    }
    log::warn("reject_order_outside_check_order",
              {{"instance", h.context->instance_id}, {"plugin", h.context->plugin_name}});
    return TH_INVALID_ARGUMENT;
  });
}

th_status service_emit_audit(th_host *host, th_str event_type, th_str corr_id, th_str data_json) {
  return guarded_service(host, "emit_audit", [&](HostHandle &h) {
    return h.services->emit_audit(*h.context, safe_view(event_type), safe_view(corr_id),
                                  safe_view(data_json));
  });
}

th_status service_report_sink_state(th_host *host, int32_t state, th_str reason) {
  return guarded_service(host, "report_sink_state", [&](HostHandle &h) {
    if (state != TH_SINK_WRITABLE && state != TH_SINK_UNAVAILABLE)
      return TH_INVALID_ARGUMENT;
    return h.services->report_sink_state(*h.context, state, safe_view(reason));
  });
}

th_status service_durable_up_to(th_host *host, uint64_t sequence) {
  return guarded_service(host, "durable_up_to",
                         [&](HostHandle &h) { return h.services->durable_up_to(*h.context, sequence); });
}

int32_t service_trading_state(th_host *host) {
  int32_t state = TH_TRADING_ACTIVE;
  th_status status = guarded_service(host, "trading_state", [&](HostHandle &h) {
    state = h.services->trading_state(*h.context);
    return TH_OK;
  });
  // A host that cannot say reads as halted to the plugin: when in doubt, stop trading.
  return status == TH_OK ? state : TH_TRADING_HALTED;
}

const th_host_api host_api = [] {
  th_host_api api{};
  api.struct_size = sizeof api;
  api.abi_major = TH_ABI_VERSION_MAJOR;
  api.abi_minor = TH_ABI_VERSION_MINOR;
  api.log = &service_log;
  api.now_ns = &service_now_ns;
  api.emit_order_intent = &service_emit_order_intent;
  api.emit_fill = &service_emit_fill;
  api.emit_reconcile = &service_emit_reconcile;
  api.get_position = &service_get_position;
  api.metric = &service_metric;
  api.reject_order = &service_reject_order;
  api.emit_audit = &service_emit_audit;
  api.report_sink_state = &service_report_sink_state;
  api.durable_up_to = &service_durable_up_to;
  api.trading_state = &service_trading_state;
  return api;
}();

std::string describe(const InstanceContext &c) {
  return "plugin " + c.plugin_name + " " + c.plugin_version + " (instance " + c.instance_id + ")";
}

} // namespace

struct PluginInstance::Impl {
  std::shared_ptr<PluginLibrary> library; // first: the code stays mapped until the rest is gone
  const th_plugin_descriptor *d = nullptr;
  InstanceContext context;
  HostHandle host{};
  th_instance *instance = nullptr;
  bool serialise = true;
  bool started = false;
  std::mutex call_mutex; // held around every call unless the plugin is thread-safe
  mutable std::mutex error_mutex;
  std::string error;

  // The plugin's message, read right after a failed call (it is valid until the next one).
  void capture_error(th_status status, const char *call) {
    std::string message;
    try {
      message = std::string(safe_view(d->last_error(instance)));
    } catch (...) {
    }
    if (message.empty())
      message = std::string(call) + " failed with status " + std::to_string(status);
    std::lock_guard lock(error_mutex);
    error = std::move(message);
  }

  // Calls `fn` on the plugin under the instance's serialisation rule; a failed status captures
  // last_error(). An exception escaping a plugin (one not using the helper) becomes TH_ERROR.
  template <class F> th_status call(const char *name, F &&fn) {
    std::unique_lock<std::mutex> lock(call_mutex, std::defer_lock);
    if (serialise)
      lock.lock();
    th_status status;
    try {
      status = fn();
    } catch (...) {
      std::lock_guard error_lock(error_mutex);
      error = std::string(name) + " let an exception escape into the host";
      return TH_ERROR;
    }
    if (status != TH_OK && status != TH_REJECTED)
      capture_error(status, name);
    return status;
  }
};

PluginInstance::PluginInstance(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<PluginInstance> PluginInstance::create(std::shared_ptr<PluginLibrary> library,
                                                       InstanceContext context,
                                                       const std::string &params_json,
                                                       HostServices &services) {
  if (!library)
    throw PluginError("no plugin library");
  auto impl = std::make_unique<Impl>();
  const PluginIdentity &id = library->identity();
  if (context.plugin_name.empty())
    context.plugin_name = id.name;
  if (context.plugin_version.empty())
    context.plugin_version = id.version;
  if (context.kind == 0)
    context.kind = id.kind;
  impl->d = &library->descriptor();
  impl->library = std::move(library);
  impl->context = std::move(context);
  impl->host = HostHandle{&services, &impl->context};
  impl->serialise = (impl->d->flags & TH_PLUGIN_FLAG_THREAD_SAFE) == 0;

  // A plugin that forgets to set *status but returns an instance has succeeded.
  th_status status = TH_OK;
  th_instance *instance = nullptr;
  std::string failure;
  try {
    instance = impl->d->create(&host_api, reinterpret_cast<th_host *>(&impl->host),
                               th_str{params_json.data(), params_json.size()}, &status);
  } catch (...) {
    failure = "create() let an exception escape into the host";
    status = TH_ERROR;
  }
  if (instance && status == TH_OK) {
    impl->instance = instance;
    return std::unique_ptr<PluginInstance>(new PluginInstance(std::move(impl)));
  }
  if (failure.empty() && instance)
    failure = std::string(safe_view(impl->d->last_error(instance)));
  if (failure.empty())
    failure = instance ? "create() failed with status " + std::to_string(status)
                       : "create() returned no instance (out of memory?)";
  if (instance)
    impl->d->destroy(instance); // the half-made instance
  throw PluginError(describe(impl->context) + ": create failed: " + failure);
}

PluginInstance::~PluginInstance() {
  if (!impl_ || !impl_->instance)
    return;
  // Sinks must flush: stop() an instance that was started and not stopped.
  if (impl_->started)
    stop();
  std::lock_guard lock(impl_->call_mutex);
  try {
    impl_->d->destroy(impl_->instance);
  } catch (...) {
  }
  impl_->instance = nullptr;
}

const InstanceContext &PluginInstance::context() const {
  return impl_->context;
}
const PluginLibrary &PluginInstance::library() const {
  return *impl_->library;
}
bool PluginInstance::has_on_signal() const {
  return impl_->d->on_signal != nullptr;
}
bool PluginInstance::has_on_fill() const {
  return impl_->d->on_fill != nullptr;
}

th_status PluginInstance::start() {
  Impl &m = *impl_;
  if (!m.d->start) {
    m.started = true;
    return TH_OK;
  }
  th_status status = m.call("start", [&] { return m.d->start(m.instance); });
  m.started = status == TH_OK;
  return status;
}

th_status PluginInstance::stop() {
  Impl &m = *impl_;
  if (!m.started)
    return TH_OK;
  m.started = false;
  if (!m.d->stop)
    return TH_OK;
  return m.call("stop", [&] { return m.d->stop(m.instance); });
}

th_status PluginInstance::on_signal(const th_signal &signal) {
  Impl &m = *impl_;
  if (!m.d->on_signal)
    return TH_UNSUPPORTED;
  return m.call("on_signal", [&] { return m.d->on_signal(m.instance, &signal); });
}

th_status PluginInstance::on_signal(const Signal &signal) {
  const th_signal view = view_of(signal);
  return on_signal(view);
}

Verdict PluginInstance::check_order(const OrderIntent &intent) {
  Impl &m = *impl_;
  if (!m.d->check_order)
    return Verdict{};
  const th_order_intent view = view_of(intent);
  RejectionSlot slot{&m.host, current_rejection, false, {}, {}};
  current_rejection = &slot;
  th_status status = m.call("check_order", [&] { return m.d->check_order(m.instance, &view); });
  current_rejection = slot.previous;
  if (status == TH_OK)
    return Verdict{};
  if (status == TH_REJECTED) {
    Verdict v{false, slot.set && !slot.rule.empty() ? std::move(slot.rule) : std::string("rejected"),
              slot.set && !slot.reason.empty() ? std::move(slot.reason) : std::string("rejected")};
    return v;
  }
  // Fail closed: a check that could not decide rejects (rule risk_error), never approves.
  return Verdict{false, "risk_error", "risk_error: " + error()};
}

th_status PluginInstance::on_order_intent(const OrderIntent &intent) {
  Impl &m = *impl_;
  if (!m.d->on_order_intent)
    return TH_UNSUPPORTED;
  const th_order_intent view = view_of(intent);
  return m.call("on_order_intent", [&] { return m.d->on_order_intent(m.instance, &view); });
}

th_status PluginInstance::on_fill(const Fill &fill) {
  Impl &m = *impl_;
  if (!m.d->on_fill)
    return TH_UNSUPPORTED;
  const th_fill view = view_of(fill);
  return m.call("on_fill", [&] { return m.d->on_fill(m.instance, &view); });
}

bool PluginInstance::has_cancel_all() const {
  return impl_->d->cancel_all != nullptr;
}

th_status PluginInstance::cancel_all() {
  Impl &m = *impl_;
  if (!m.d->cancel_all)
    return TH_UNSUPPORTED;
  return m.call("cancel_all", [&] { return m.d->cancel_all(m.instance); });
}

bool PluginInstance::reports_durable() const {
  // A plugin stating minor 0 cannot know the flag: its bit is unassigned there.
  return impl_->library->identity().abi_minor >= 1 && (impl_->d->flags & TH_PLUGIN_FLAG_REPORTS_DURABLE) != 0;
}

th_status PluginInstance::on_audit_event(const AuditRecord &record, uint64_t sequence) {
  Impl &m = *impl_;
  if (!m.d->on_audit_event)
    return TH_UNSUPPORTED;
  th_audit_event view = view_of(record);
  view.sequence = sequence;
  return m.call("on_audit_event", [&] { return m.d->on_audit_event(m.instance, &view); });
}

std::string PluginInstance::error() const {
  std::lock_guard lock(impl_->error_mutex);
  return impl_->error;
}

} // namespace th
