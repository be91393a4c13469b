#include "app/lifecycle.hpp"

namespace th::app {

void Lifecycle::build() {
  if (auto errors = rt_.pipeline->build(roles_); !errors.empty())
    throw ConfigErrors(std::move(errors));
}

void Lifecycle::start() {
  if (auto errors = rt_.pipeline->start(); !errors.empty())
    throw ConfigErrors(std::move(errors));
  bus_starting_ = true;
  if (rt_.trading.get() == TH_TRADING_HALTED && (roles_ & role_exec))
    rt_.pipeline->execution().cancel_all(); // restored halted: nothing may work at a venue
  rt_.bus->start();
  bus_started_ = true;
  rt_.audit_startup();
}

bool Lifecycle::stop(std::chrono::milliseconds drain, const std::function<void()> &before_bus_stop) {
  // A bus that never started has nothing to drain (a start that failed or was interrupted).
  bool drained = bus_started_ ? rt_.bus->wait_idle(drain) : true;
  rt_.pipeline->stop();
  if (before_bus_stop)
    before_bus_stop();
  if (bus_starting_)
    rt_.bus->stop();
  return drained;
}

} // namespace th::app
