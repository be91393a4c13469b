// Optional header-only C++20 helper for writing tradehost plugins. C plugins do not need it.
//
// Write a class deriving from tradehost::PluginBase, give it a constructor
// `(const th_host_api*, th_host*, std::string_view params_json)` and any of these members;
// only the ones present are wired into the descriptor:
//
//   void start();  void stop();
//   void on_signal(const th_signal&);
//   bool check_order(const th_order_intent&);   // false = rejected; call reject() first
//   void on_order_intent(const th_order_intent&);
//   void on_fill(const th_fill&);
//   void on_audit_event(const th_audit_event&);  // throw std::invalid_argument for a bad event
//   void cancel_all();                           // executors, ABI 1.1
//
// then export it once per library:
//
//   TRADEHOST_PLUGIN(MyStrategy, TH_KIND_STRATEGY, "my-strategy", "1.0.0", "what it does",
//                    R"({"type":"object"})")
//
// Exceptions thrown by the constructor or a member become a status and last_error(); nothing
// unwinds into the host.
#ifndef TRADEHOST_PLUGIN_HPP
#define TRADEHOST_PLUGIN_HPP

#include <tradehost/plugin.h>

#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tradehost {

inline std::string_view view(th_str s) {
  return s.len ? std::string_view(s.ptr, s.len) : std::string_view();
}
inline th_str str(std::string_view s) {
  return th_str{s.data(), s.size()};
}

// Services for the instance; call from any thread.
class PluginBase {
public:
  PluginBase(const th_host_api *api, th_host *host) : api_(api), host_(host) {}
  virtual ~PluginBase() = default;
  PluginBase(const PluginBase &) = delete;
  PluginBase &operator=(const PluginBase &) = delete;

  void log(int32_t level, std::string_view message, std::string_view corr_id = {}) const {
    api_->log(host_, level, str(corr_id), str(message));
  }
  int64_t now_ns() const { return api_->now_ns(host_); }
  th_status emit(const th_order_intent &intent) const { return api_->emit_order_intent(host_, &intent); }
  th_status emit(const th_fill &fill) const { return api_->emit_fill(host_, &fill); }
  th_status emit(const th_reconcile &reconcile) const { return api_->emit_reconcile(host_, &reconcile); }
  th_position position(std::string_view agent_id, std::string_view instrument) const {
    th_position p{};
    p.struct_size = sizeof p;
    api_->get_position(host_, str(agent_id), str(instrument), &p);
    return p;
  }
  void count(std::string_view name, double value = 1, const th_label *labels = nullptr, size_t n = 0) const {
    api_->metric(host_, TH_METRIC_COUNTER, str(name), labels, n, value);
  }
  void observe(std::string_view name, double value, const th_label *labels = nullptr, size_t n = 0) const {
    api_->metric(host_, TH_METRIC_HISTOGRAM, str(name), labels, n, value);
  }
  void reject(std::string_view rule, std::string_view reason) const {
    api_->reject_order(host_, str(rule), str(reason));
  }
  void audit(std::string_view event_type, std::string_view corr_id, std::string_view data_json) const {
    api_->emit_audit(host_, str(event_type), str(corr_id), str(data_json));
  }
  const th_host_api *api() const { return api_; }
  th_host *host() const { return host_; }
  // ABI 1.1: the host's trading state (TH_TRADING_*); TH_TRADING_ACTIVE (1) from a 1.0 host,
  // and always when compiled against the 1.0 header (which has no trading state).
  int32_t trading_state() const {
#ifdef TH_TRADING_ACTIVE
    if (TH_HAS_FIELD(api_, th_host_api, trading_state) && api_->trading_state)
      return api_->trading_state(host_);
#endif
    return 1; // TH_TRADING_ACTIVE
  }

  // Kept here so the adapter can report errors for every plugin class.
  std::string last_error_;

private:
  const th_host_api *api_;
  th_host *host_;
};

namespace detail {

// th_instance is opaque to the host; a plugin's instance is its PluginBase.
inline PluginBase *base(th_instance *i) {
  return reinterpret_cast<PluginBase *>(i);
}
inline th_instance *handle(PluginBase *b) {
  return reinterpret_cast<th_instance *>(b);
}

// Records the message; copying it may itself throw (out of memory), which must not escape either.
inline void set_error(PluginBase *b, const char *message) noexcept {
  try {
    b->last_error_ = message;
  } catch (...) {
    b->last_error_.clear();
  }
}

template <class F> th_status guarded(th_instance *i, F &&f) noexcept {
  PluginBase *b = base(i);
  try {
    return f();
  } catch (const std::exception &e) {
    set_error(b, e.what());
  } catch (...) {
    set_error(b, "unknown exception");
  }
  return TH_ERROR;
}

template <class T> struct Adapter {
  static T *self(th_instance *i) { return static_cast<T *>(base(i)); }

  static th_instance *create(const th_host_api *api, th_host *host, th_str params,
                             th_status *status) noexcept {
    T *t = nullptr;
    try {
      t = new T(api, host, view(params));
      *status = TH_OK;
      return handle(t);
    } catch (const std::exception &e) {
      // Constructor failed: hand back a bare base so last_error() can explain.
      auto *b = new (std::nothrow) PluginBase(api, host);
      if (b)
        set_error(b, e.what());
      *status = TH_INVALID_ARGUMENT;
      return handle(b);
    } catch (...) {
      auto *b = new (std::nothrow) PluginBase(api, host);
      if (b)
        set_error(b, "unknown exception in create");
      *status = TH_ERROR;
      return handle(b);
    }
  }
  static void destroy(th_instance *i) noexcept { delete base(i); }
  static th_str last_error(th_instance *i) noexcept { return str(base(i)->last_error_); }
  static th_status start(th_instance *i) noexcept {
    return guarded(i, [&] {
      self(i)->start();
      return TH_OK;
    });
  }
  static th_status stop(th_instance *i) noexcept {
    return guarded(i, [&] {
      self(i)->stop();
      return TH_OK;
    });
  }
  static th_status on_signal(th_instance *i, const th_signal *s) noexcept {
    return guarded(i, [&] {
      self(i)->on_signal(*s);
      return TH_OK;
    });
  }
  static th_status check_order(th_instance *i, const th_order_intent *o) noexcept {
    return guarded(i, [&] { return self(i)->check_order(*o) ? TH_OK : TH_REJECTED; });
  }
  static th_status on_order_intent(th_instance *i, const th_order_intent *o) noexcept {
    return guarded(i, [&] {
      self(i)->on_order_intent(*o);
      return TH_OK;
    });
  }
  static th_status on_fill(th_instance *i, const th_fill *f) noexcept {
    return guarded(i, [&] {
      self(i)->on_fill(*f);
      return TH_OK;
    });
  }
#ifdef TH_TRADING_ACTIVE // ABI 1.1 header
  static th_status cancel_all(th_instance *i) noexcept {
    return guarded(i, [&] {
      self(i)->cancel_all();
      return TH_OK;
    });
  }
#endif
  // std::invalid_argument from a sink means "this event can never be stored" (the host skips
  // it); any other exception "cannot store now" (the host holds the event and retries).
  static th_status on_audit_event(th_instance *i, const th_audit_event *e) noexcept {
    try {
      self(i)->on_audit_event(*e);
      return TH_OK;
    } catch (const std::invalid_argument &error) {
      set_error(base(i), error.what());
      return TH_INVALID_ARGUMENT;
    } catch (...) {
      return guarded(i, []() -> th_status { throw; });
    }
  }

  static th_plugin_descriptor describe(int32_t kind, uint32_t flags, th_str name, th_str version,
                                       th_str description, th_str schema) {
    th_plugin_descriptor d{};
    d.struct_size = sizeof d;
    d.abi_major = TH_ABI_VERSION_MAJOR;
    d.abi_minor = TH_ABI_VERSION_MINOR;
    d.kind = kind;
    d.flags = flags;
    d.name = name;
    d.version = version;
    d.description = description;
    d.params_schema = schema;
    d.create = &create;
    d.destroy = &destroy;
    d.last_error = &last_error;
    if constexpr (requires(T & t) { t.start(); })
      d.start = &start;
    if constexpr (requires(T & t) { t.stop(); })
      d.stop = &stop;
    if constexpr (requires(T & t, const th_signal &s) { t.on_signal(s); })
      d.on_signal = &on_signal;
    if constexpr (requires(T & t, const th_order_intent &o) { t.check_order(o); })
      d.check_order = &check_order;
    if constexpr (requires(T & t, const th_order_intent &o) { t.on_order_intent(o); })
      d.on_order_intent = &on_order_intent;
    if constexpr (requires(T & t, const th_fill &f) { t.on_fill(f); })
      d.on_fill = &on_fill;
    if constexpr (requires(T & t, const th_audit_event &e) { t.on_audit_event(e); })
      d.on_audit_event = &on_audit_event;
#ifdef TH_TRADING_ACTIVE
    if constexpr (requires(T & t) { t.cancel_all(); })
      d.cancel_all = &cancel_all;
#endif
    return d;
  }
};

} // namespace detail
} // namespace tradehost

// Defines the library's single exported entry point for plugin class CLASS.
#define TRADEHOST_PLUGIN_WITH_FLAGS(CLASS, KIND, FLAGS, NAME, VERSION, DESCRIPTION, SCHEMA)                  \
  extern "C" TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {                     \
    static const th_plugin_descriptor descriptor = ::tradehost::detail::Adapter<CLASS>::describe(            \
        KIND, FLAGS, TH_STR(NAME), TH_STR(VERSION), TH_STR(DESCRIPTION), TH_STR(SCHEMA));                    \
    return &descriptor;                                                                                      \
  }

#define TRADEHOST_PLUGIN(CLASS, KIND, NAME, VERSION, DESCRIPTION, SCHEMA)                                    \
  TRADEHOST_PLUGIN_WITH_FLAGS(CLASS, KIND, 0u, NAME, VERSION, DESCRIPTION, SCHEMA)

#endif // TRADEHOST_PLUGIN_HPP
