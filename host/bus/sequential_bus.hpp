// A deterministic in-process bus for replays and backtests: no threads of its own. publish()
// queues the message; the publishing thread then delivers queued messages one at a time, in
// publish order, to each subscriber in subscription order (breadth first: a handler's own
// publishes are delivered after the message it is handling). The same input therefore always
// gives the same sequence of events, which the threaded embedded bus cannot promise.
#pragma once

#include "bus/bus.hpp"

#include <memory>

namespace th {

std::unique_ptr<Bus> make_sequential_bus();

} // namespace th
