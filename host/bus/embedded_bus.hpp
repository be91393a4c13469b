// In-process bus: one bounded queue and one delivery thread per subscription.
#pragma once

#include "bus/bus.hpp"

#include <memory>

namespace th {

struct EmbeddedBusOptions {
  size_t queue_capacity = 65536; // per subscription, rounded up to a power of two
};

std::unique_ptr<Bus> make_embedded_bus(const EmbeddedBusOptions &options = {});

} // namespace th
