// What a running host reports in /healthz and /readyz: the bus, the audit sinks (fail closed:
// one that cannot write makes the process unhealthy), the agents and the first consumer.
#pragma once

#include "bus/bus.hpp"
#include "gateway/gateway.hpp"
#include "pipeline/pipeline.hpp"

namespace th::app {

gateway::HealthReport health_of(const Bus &bus, const Pipeline &pipeline, bool running);

} // namespace th::app
