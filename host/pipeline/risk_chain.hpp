// The deployment's risk checks, in order. The first rejection stops an intent. A risk plugin
// that fails (rather than rejects) also rejects: the chain fails closed.
#pragma once

#include "loader/plugin_instance.hpp"

#include <memory>
#include <vector>

namespace th {

class RiskChain {
public:
  void add(std::unique_ptr<PluginInstance> check) { checks_.push_back(std::move(check)); }

  Verdict check(const OrderIntent &intent) {
    for (auto &c : checks_) {
      Verdict v = c->check_order(intent);
      if (!v.approved) {
        if (v.rule.empty())
          v.rule = "rejected";
        v.reason = c->context().instance_id + ": " + v.reason;
        return v;
      }
    }
    return {};
  }

  const std::vector<std::unique_ptr<PluginInstance>> &checks() const { return checks_; }

private:
  std::vector<std::unique_ptr<PluginInstance>> checks_;
};

} // namespace th
