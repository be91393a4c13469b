// One instance created from a plugin library. Calls are serialised unless the plugin declares
// itself thread-safe; every status other than TH_OK/TH_REJECTED comes back with last_error().
#pragma once

#include "events/events.hpp"
#include "loader/host_services.hpp"
#include "loader/plugin_library.hpp"

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace th {

// A failed plugin call, with the plugin's last_error().
struct PluginError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Verdict {
  bool approved = true;
  std::string rule;
  std::string reason;
};

class PluginInstance {
public:
  // Creates an instance (params must already be validated). Throws PluginError with the
  // plugin's message when create() fails. `services` must outlive the instance.
  static std::unique_ptr<PluginInstance> create(std::shared_ptr<PluginLibrary> library,
                                                InstanceContext context, const std::string &params_json,
                                                HostServices &services);
  ~PluginInstance(); // destroys the plugin instance; the library stays loaded while referenced

  const InstanceContext &context() const;
  const PluginLibrary &library() const;

  bool has_on_signal() const;
  bool has_on_fill() const;

  // Each returns the plugin's status; failures also set error().
  th_status start();
  th_status stop();
  th_status on_signal(const Signal &);
  th_status on_signal(const th_signal &);
  Verdict check_order(const OrderIntent &); // any failure but TH_REJECTED rejects with rule "risk_error"
  th_status on_order_intent(const OrderIntent &);
  th_status on_fill(const Fill &);
  // `sequence` numbers the events given to this instance (th_audit_event.sequence, ABI 1.1).
  th_status on_audit_event(const AuditRecord &, uint64_t sequence = 0);
  // ABI 1.1: an audit sink that reports what is durable (TH_PLUGIN_FLAG_REPORTS_DURABLE).
  bool reports_durable() const;
  // ABI 1.1, executors: cancel every working order (TH_UNSUPPORTED when the plugin has no cancel_all).
  bool has_cancel_all() const;
  th_status cancel_all();

  // The plugin's last_error() after a failed call.
  std::string error() const;

  struct Impl;

private:
  explicit PluginInstance(std::unique_ptr<Impl>);
  std::unique_ptr<Impl> impl_;
};

} // namespace th
