// In-process bus: one bounded queue and one delivery thread per subscription.
#pragma once

#include "bus/bus.hpp"

#include <memory>

namespace th {

struct EmbeddedBusOptions {
  size_t queue_capacity = 65536; // per subscription, rounded up to a power of two
  // String capacity a slot may keep once its message is handled; a larger message's memory is
  // freed then, so one burst of large bodies does not stay allocated in every slot (docs/bus.md).
  size_t max_slot_bytes = 16 * 1024;
};

std::unique_ptr<Bus> make_embedded_bus(const EmbeddedBusOptions &options = {});

} // namespace th
