#include "observability/log.hpp"

#include "events/json_codec.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>

namespace th::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_mutex;
FILE *g_out = nullptr; // nullptr = stderr

std::string_view name_of(Level l) {
  switch (l) {
  case Level::debug:
    return "debug";
  case Level::info:
    return "info";
  case Level::warn:
    return "warn";
  case Level::error:
    return "error";
  }
  return "info";
}
} // namespace

std::optional<Level> level_from_name(std::string_view n) {
  if (n == "debug")
    return Level::debug;
  if (n == "info")
    return Level::info;
  if (n == "warn" || n == "warning")
    return Level::warn;
  if (n == "error")
    return Level::error;
  return std::nullopt;
}

void set_level(Level l) {
  g_level = static_cast<int>(l);
}

void set_file(const std::string &path) {
  FILE *f = std::fopen(path.c_str(), "a");
  if (!f)
    throw std::runtime_error("cannot open log file " + path);
  std::lock_guard lock(g_mutex);
  if (g_out)
    std::fclose(g_out);
  g_out = f;
}

bool enabled(Level l) {
  return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed);
}

void write(Level l, std::string_view event, const nlohmann::json &fields, std::string_view corr_id) {
  if (!enabled(l))
    return;
  nlohmann::json line = nlohmann::json::object();
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  line["ts"] = format_timestamp(now.count());
  line["level"] = name_of(l);
  line["event"] = event;
  if (!corr_id.empty())
    line["corr_id"] = corr_id;
  if (fields.is_object())
    for (auto it = fields.begin(); it != fields.end(); ++it)
      if (!line.contains(it.key()))
        line[it.key()] = it.value();
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  std::lock_guard lock(g_mutex);
  FILE *out = g_out ? g_out : stderr;
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

} // namespace th::log
