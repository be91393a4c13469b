// Test strategy "counter": one buy of 1 per signal, its strategy field naming the build
// ("counter@<version>"). COUNTER_FAIL makes create() fail; COUNTER_WRONG_ABI claims ABI 2.
#include <tradehost/plugin.hpp>

#include <stdexcept>
#include <string>

#ifndef COUNTER_VERSION
#define COUNTER_VERSION "1.0.0"
#endif

namespace {

class Counter : public tradehost::PluginBase {
public:
  Counter(const th_host_api *api, th_host *host, std::string_view) : PluginBase(api, host) {
#ifdef COUNTER_FAIL
    throw std::runtime_error("counter " COUNTER_VERSION " refuses to start (test build)");
#endif
  }
  void on_signal(const th_signal &s) {
    th_order_intent i{};
    i.struct_size = sizeof i;
    i.corr_id = s.corr_id;
    i.instrument = s.instrument;
    i.side = TH_SIDE_BUY;
    i.order_type = TH_ORDER_MARKET;
    i.quantity = 1;
    i.timestamp_ns = s.timestamp_ns;
    i.strategy = TH_STR("counter@" COUNTER_VERSION);
    emit(i);
  }
};

} // namespace

#ifdef COUNTER_WRONG_ABI
extern "C" TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  static th_plugin_descriptor d = [] {
    auto x = tradehost::detail::Adapter<Counter>::describe(
        TH_KIND_STRATEGY, 0, TH_STR("counter"), TH_STR(COUNTER_VERSION), TH_STR("wrong ABI"), TH_STR(""));
    x.abi_major = 2;
    return x;
  }();
  return &d;
}
#else
TRADEHOST_PLUGIN(Counter, TH_KIND_STRATEGY, "counter", COUNTER_VERSION, "counts signals (hot reload tests)",
                 R"({"type":"object"})")
#endif
