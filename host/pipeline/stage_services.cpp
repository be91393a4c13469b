#include "pipeline/stage_services.hpp"

#include "events/c_view.hpp"
#include "observability/log.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>

namespace th {

namespace {
// FNV-1a: a stable digest of a plugin's audit data, so a re-run of the same input gives the
// same event id (audit sinks store an event id once).
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s)
    h = (h ^ c) * 1099511628211ull;
  return h;
}
} // namespace

StageServices::StageServices(StageContext ctx) : ctx_(ctx) {
  for (size_t i = 0; i < subject_count; ++i)
    published_[i] =
        &ctx_.metrics.bus_published.Add({{"subject", std::string(subject_name(static_cast<Subject>(i)))}});
}

void StageServices::log(const InstanceContext &c, int32_t level, std::string_view corr_id,
                        std::string_view message) {
  log::Level l = level >= TH_LOG_ERROR  ? log::Level::error
                 : level == TH_LOG_WARN ? log::Level::warn
                 : level == TH_LOG_INFO ? log::Level::info
                                        : log::Level::debug;
  if (!log::enabled(l))
    return;
  log::write(l, "plugin_log", {{"instance", c.instance_id}, {"plugin", c.plugin_name}, {"message", message}},
             corr_id);
}

th_status StageServices::get_position(const InstanceContext &c, std::string_view agent_id,
                                      std::string_view instrument, th_position &out) {
  // Strategies asking with an empty agent id mean themselves.
  std::string_view agent =
      agent_id.empty() && c.kind == TH_KIND_STRATEGY ? std::string_view(c.instance_id) : agent_id;
  th_position p = ctx_.portfolio.position(agent, instrument, ctx_.clock.now_ns());
  uint32_t size = out.struct_size;
  if (size < sizeof(uint32_t))
    return TH_INVALID_ARGUMENT;
  p.struct_size = size;
  std::memcpy(&out, &p, size < sizeof p ? size : sizeof p);
  return TH_OK;
}

th_status StageServices::metric(const InstanceContext &, int32_t type, std::string_view name,
                                const th_label *labels, size_t label_count, double value) {
  std::vector<std::pair<std::string, std::string>> l;
  l.reserve(label_count);
  for (size_t i = 0; i < label_count; ++i)
    l.emplace_back(std::string(as_view(labels[i].name)), std::string(as_view(labels[i].value)));
  return ctx_.metrics.plugin_metric(type, std::string(name), l, value) ? TH_OK : TH_INVALID_ARGUMENT;
}

th_status StageServices::emit_audit(const InstanceContext &c, std::string_view event_type,
                                    std::string_view corr_id, std::string_view data_json) {
  // Checked to be a JSON object; stored as given (sinks canonicalize what they hash).
  size_t first = data_json.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || data_json[first] != '{' || !nlohmann::json::accept(data_json))
    return TH_INVALID_ARGUMENT;
  Message m;
  m.subject = Subject::audit_event;
  AuditRecord r;
  r.correlation_id = corr_id;
  r.event_type = event_type;
  r.timestamp_ns = ctx_.clock.now_ns();
  r.service = c.instance_id;
  r.data_json = data_json;
  char digest[17];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(fnv1a(r.data_json)));
  r.event_id = std::string(corr_id) + ":" + std::string(event_type) + ":" + c.instance_id + ":" + digest;
  m.msg_id = r.event_id;
  m.payload = std::move(r);
  return publish(m);
}

th_status StageServices::publish(const Message &m) {
  PublishStatus s = ctx_.bus.publish(m);
  if (s == PublishStatus::unavailable) {
    log::error("publish_failed", {{"subject", subject_name(m.subject)}, {"reason", "bus unavailable"}},
               corr_id_of(m));
    return TH_UNAVAILABLE;
  }
  published_[static_cast<size_t>(m.subject)]->Increment();
  return TH_OK;
}

} // namespace th
