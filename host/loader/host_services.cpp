// Default host services: enough for tools and tests that run a plugin without a pipeline.
// The pipeline overrides what it routes (intents, fills, positions, metrics, audit).
#include "loader/host_services.hpp"

#include "loader/plugin_library.hpp"
#include "observability/log.hpp"

#include <chrono>

namespace th {
namespace {
log::Level level_of(int32_t plugin_level) {
  switch (plugin_level) {
  case TH_LOG_DEBUG:
    return log::Level::debug;
  case TH_LOG_WARN:
    return log::Level::warn;
  case TH_LOG_ERROR:
    return log::Level::error;
  default:
    return log::Level::info;
  }
}
} // namespace

void HostServices::log(const InstanceContext &context, int32_t level, std::string_view corr_id,
                       std::string_view message) {
  const log::Level l = level_of(level);
  if (!log::enabled(l))
    return;
  log::write(l, "plugin_log",
             {{"instance", context.instance_id},
              {"plugin", context.plugin_name},
              {"plugin_version", context.plugin_version},
              {"kind", kind_name(context.kind)},
              {"message", message}},
             corr_id);
}

int64_t HostServices::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

th_status HostServices::get_position(const InstanceContext &, std::string_view, std::string_view,
                                     th_position &out) {
  // Flat and unknown: zeros, keeping the caller's struct_size.
  const uint32_t size = out.struct_size;
  out = th_position{};
  out.struct_size = size;
  return TH_OK;
}

th_status HostServices::metric(const InstanceContext &, int32_t, std::string_view, const th_label *, size_t,
                               double) {
  return TH_OK;
}

} // namespace th
