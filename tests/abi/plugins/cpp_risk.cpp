// A risk plugin in C++: rejects intents above max_quantity through reject(); throws on
// instrument "THROW" (a plugin error, which the host turns into a rejection).
#include <tradehost/plugin.hpp>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace {

class MaxQuantity : public tradehost::PluginBase {
public:
  MaxQuantity(const th_host_api *api, th_host *host, std::string_view params)
      : PluginBase(api, host), max_(nlohmann::json::parse(params).value("max_quantity", 5.0)) {}

  bool check_order(const th_order_intent &intent) {
    if (tradehost::view(intent.instrument) == "THROW")
      throw std::runtime_error("risk check crashed");
    if (intent.quantity <= max_)
      return true;
    reject("max_quantity",
           "quantity " + std::to_string(intent.quantity) + " exceeds " + std::to_string(max_));
    return false;
  }

private:
  double max_;
};

} // namespace

TRADEHOST_PLUGIN(MaxQuantity, TH_KIND_RISK, "cpp-risk", "1.0.0", "Test risk check: maximum quantity",
                 R"({"type":"object","properties":{"max_quantity":{"type":"number"}}})")
