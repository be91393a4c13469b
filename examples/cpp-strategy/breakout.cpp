// breakout: a strategy plugin in C++ with the SDK's helper <tradehost/plugin.hpp>. Buys when a
// signal's price rises above the highest of the previous `lookback` prices of its instrument,
// sells when it falls below the lowest. Build: see CMakeLists.txt.
#include <tradehost/plugin.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <stdexcept>
#include <string>

namespace {

// Reads one number from the (schema-checked) params object, or returns the default.
double number(std::string_view json, std::string_view key, double fallback) {
  for (auto at = json.find(key); at != std::string_view::npos; at = json.find(key, at + 1)) {
    bool quoted = at > 0 && json[at - 1] == '"' && json.substr(at + key.size(), 1) == "\"";
    auto colon = json.find(':', at);
    if (quoted && colon != std::string_view::npos)
      return std::stod(std::string(json.substr(colon + 1)));
  }
  return fallback;
}

class Breakout : public tradehost::PluginBase {
public:
  Breakout(const th_host_api *api, th_host *host, std::string_view params)
      : PluginBase(api, host), lookback_(static_cast<size_t>(number(params, "lookback", 5))),
        quantity_(number(params, "quantity", 10)) {
    if (lookback_ < 1)
      throw std::invalid_argument("lookback must be at least 1");
  }

  void on_signal(const th_signal &signal) {
    if (!(signal.flags & TH_SIGNAL_HAS_PRICE))
      return;
    auto &prices = history_[std::string(tradehost::view(signal.instrument))];
    if (prices.size() == lookback_) {
      auto [low, high] = std::minmax_element(prices.begin(), prices.end());
      if (signal.price > *high)
        emit_intent(signal, TH_SIDE_BUY);
      else if (signal.price < *low)
        emit_intent(signal, TH_SIDE_SELL);
      prices.pop_front();
    }
    prices.push_back(signal.price);
  }

private:
  void emit_intent(const th_signal &signal, int32_t side) {
    th_order_intent intent{};
    intent.struct_size = sizeof intent;
    intent.corr_id = signal.corr_id;
    intent.instrument = signal.instrument;
    intent.side = side;
    intent.order_type = TH_ORDER_MARKET;
    intent.quantity = quantity_;
    intent.timestamp_ns = now_ns();
    emit(intent);
  }

  size_t lookback_;
  double quantity_;
  std::map<std::string, std::deque<double>> history_; // per instrument; all state in the instance
};

} // namespace

TRADEHOST_PLUGIN(Breakout, TH_KIND_STRATEGY, "example-breakout", "1.0.0",
                 "Buys above the recent high and sells below the recent low",
                 R"({"type":"object","additionalProperties":false,"properties":{
                      "lookback":{"type":"integer","minimum":1,"maximum":1000},
                      "quantity":{"type":"number","minimum":0.001}}})")
