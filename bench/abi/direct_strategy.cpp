#include "direct_strategy.hpp"

#include <cstring>

namespace bench {
namespace {

class IntentSink {
public:
  virtual ~IntentSink() = default;
  virtual th_status emit(const th_order_intent &) = 0;
};

class CountingSink final : public IntentSink {
public:
  [[gnu::noinline]] th_status emit(const th_order_intent &intent) override {
    quantity_ += intent.quantity;
    return TH_OK;
  }
  double quantity_ = 0;
};

class Counting final : public DirectStrategy {
public:
  explicit Counting(bool emit) : emit_(emit) {}
  [[gnu::noinline]] th_status on_signal(const th_signal &signal) override {
    if (signal.action == TH_SIGNAL_BUY)
      ++buys_;
    strength_ += signal.strength;
    if (!emit_)
      return TH_OK;
    th_order_intent intent;
    std::memset(&intent, 0, sizeof intent);
    intent.struct_size = sizeof intent;
    intent.corr_id = signal.corr_id;
    intent.instrument = signal.instrument;
    intent.side = TH_SIDE_BUY;
    intent.order_type = TH_ORDER_MARKET;
    intent.quantity = 1;
    intent.timestamp_ns = signal.timestamp_ns;
    return sink_->emit(intent);
  }

private:
  bool emit_;
  long buys_ = 0;
  double strength_ = 0;
  std::unique_ptr<IntentSink> sink_ = std::make_unique<CountingSink>();
};

} // namespace

std::unique_ptr<DirectStrategy> make_direct_strategy(bool emit) {
  return std::make_unique<Counting>(emit);
}

} // namespace bench
