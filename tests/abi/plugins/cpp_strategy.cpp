// A strategy plugin in C++ on <tradehost/plugin.hpp>: buys `quantity` on every buy signal with
// full risk params; throws for instrument "THROW" and for bad params, so the tests can see
// exceptions turned into statuses.
#include <tradehost/plugin.hpp>

#include <stdexcept>
#include <string>

namespace {

class CppStrategy : public tradehost::PluginBase {
public:
  CppStrategy(const th_host_api *api, th_host *host, std::string_view params) : PluginBase(api, host) {
    // Params are validated by the host against the schema; "lots" is checked here on purpose.
    auto at = params.find("\"lots\"");
    if (at != std::string_view::npos) {
      lots_ = std::stod(std::string(params.substr(params.find(':', at) + 1)));
      if (lots_ > 100)
        throw std::invalid_argument("lots must be at most 100, got " + std::to_string(lots_));
    }
  }

  void on_signal(const th_signal &signal) {
    if (tradehost::view(signal.instrument) == "THROW")
      throw std::runtime_error("strategy blew up on THROW");
    if (signal.action != TH_SIGNAL_BUY)
      return;
    th_order_intent intent{};
    intent.struct_size = sizeof intent;
    intent.corr_id = signal.corr_id;
    intent.parent_corr_id = signal.parent_corr_id;
    intent.instrument = signal.instrument;
    intent.side = TH_SIDE_BUY;
    intent.order_type = TH_ORDER_MARKET;
    intent.time_in_force = TH_TIF_IOC;
    intent.quantity = lots_;
    intent.timestamp_ns = signal.timestamp_ns;
    intent.strategy = tradehost::str("cpp-strategy");
    intent.flags = TH_INTENT_HAS_MAX_POSITION | TH_INTENT_HAS_TAKE_PROFIT;
    intent.max_position = 10;
    intent.take_profit = 0.05;
    intent.extra_json = tradehost::str(R"({"reason":"cpp"})");
    if (emit(intent) != TH_OK)
      throw std::runtime_error("host refused the intent");
    count("cpp_strategy_intents_total");
  }

private:
  double lots_ = 2;
};

} // namespace

TRADEHOST_PLUGIN(
    CppStrategy, TH_KIND_STRATEGY, "cpp-strategy", "2.1.0", "Test strategy in C++ via plugin.hpp",
    R"({"type":"object","properties":{"lots":{"type":"number","minimum":0.001}},"additionalProperties":false})")
