#include "app/health.hpp"

namespace th::app {

// The consumer this process reports in /healthz: its first durable on the bus.
gateway::HealthReport health_of(const Bus &bus, const Pipeline &pipeline, bool running) {
  gateway::HealthReport h;
  BusHealth b = bus.health();
  h.nats = b.state;
  h.processor_status = running ? "active" : "stopped";
  h.ok = running && b.state != "disconnected";
  // Fail closed: a sink that cannot write makes the process unhealthy, naming it.
  for (const auto &s : pipeline.audit().sink_states())
    h.audit_sinks.push_back({s.sink, s.available, s.reason});
  for (const auto &a : pipeline.agent_states())
    h.agents.push_back({a.id, a.plugin, a.state, a.reason});
  if (std::string why = pipeline.audit().unavailable_reason(); !why.empty()) {
    h.ok = false;
    h.problem = why;
  }
  if (!b.problem.empty()) { // the bus cannot accept signals (the inbox cannot be written)
    h.ok = false;
    h.problem = h.problem.empty() ? b.problem : h.problem + "; " + b.problem;
  }
  if (!b.consumers.empty()) {
    const auto &c = b.consumers.front();
    h.consumer = {c.healthy ? "healthy" : "degraded", c.durable, c.filter_subject, c.num_pending,
                  c.num_waiting};
    for (const auto &other : b.consumers)
      if (!other.healthy)
        h.consumer.status = "degraded";
  }
  return h;
}

} // namespace th::app
