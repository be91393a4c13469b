// The baseline for bench_abi: a C++ strategy called through a virtual function defined in
// another translation unit (so the call is neither inlined nor devirtualised).
#pragma once

#include <tradehost/plugin.h>

#include <memory>

namespace bench {

class DirectStrategy {
public:
  virtual ~DirectStrategy() = default;
  virtual th_status on_signal(const th_signal &signal) = 0;
};

// The same work as bench_plugin.c; `emit` adds an intent handed to a virtual sink.
std::unique_ptr<DirectStrategy> make_direct_strategy(bool emit);

} // namespace bench
