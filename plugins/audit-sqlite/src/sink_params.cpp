#include "sink_params.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace th::audit {

namespace {

[[noreturn]] void bad(const std::string &name, const std::string &why) {
  throw std::invalid_argument("audit-sqlite param \"" + name + "\": " + why);
}

uint64_t positive_integer(const nlohmann::json &p, const std::string &name, uint64_t fallback,
                          uint64_t minimum = 1) {
  auto it = p.find(name);
  if (it == p.end())
    return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < static_cast<int64_t>(minimum))
    bad(name, "must be an integer >= " + std::to_string(minimum));
  return it->get<uint64_t>();
}

std::string text(const nlohmann::json &p, const std::string &name) {
  auto &v = p.at(name);
  if (!v.is_string() || v.get_ref<const std::string &>().empty())
    bad(name, "must be a non-empty string");
  return v.get<std::string>();
}

} // namespace

SinkParams parse_sink_params(std::string_view params_json) {
  nlohmann::json p;
  try {
    p = params_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(params_json);
  } catch (const nlohmann::json::parse_error &e) {
    throw std::invalid_argument(std::string("audit-sqlite params are not JSON: ") + e.what());
  }
  if (!p.is_object())
    throw std::invalid_argument("audit-sqlite params must be a JSON object");
  static const char *known[] = {"path",
                                "batch_max",
                                "batch_delay_ms",
                                "synchronous",
                                "checkpoint_every",
                                "checkpoint_interval_s",
                                "signing_key",
                                "checkpoint_file",
                                "queue_capacity",
                                "wal_checkpoint_pages",
                                "busy_timeout_ms",
                                "retry_max_ms"};
  for (auto it = p.begin(); it != p.end(); ++it)
    if (std::find(std::begin(known), std::end(known), it.key()) == std::end(known))
      bad(it.key(), "unknown param");

  SinkParams s;
  if (!p.contains("path"))
    bad("path", "is required (the SQLite database file)");
  s.path = text(p, "path");
  s.batch_max = positive_integer(p, "batch_max", s.batch_max);
  s.batch_delay = std::chrono::milliseconds(positive_integer(p, "batch_delay_ms", 5, 0));
  if (p.contains("synchronous")) {
    std::string mode = text(p, "synchronous");
    if (mode == "normal")
      s.synchronous = Synchronous::normal;
    else if (mode == "full")
      s.synchronous = Synchronous::full;
    else if (mode == "off")
      s.synchronous = Synchronous::off;
    else
      bad("synchronous", "must be \"normal\", \"full\" or \"off\", not \"" + mode + "\"");
  }
  s.checkpoint_every = positive_integer(p, "checkpoint_every", s.checkpoint_every);
  if (auto it = p.find("checkpoint_interval_s"); it != p.end()) {
    if (!it->is_number() || !(it->get<double>() > 0) || !std::isfinite(it->get<double>()))
      bad("checkpoint_interval_s", "must be a number > 0");
    s.checkpoint_interval =
        std::chrono::milliseconds(static_cast<int64_t>(std::ceil(it->get<double>() * 1000)));
  }
  if (p.contains("signing_key"))
    s.signing_key = text(p, "signing_key");
  s.checkpoint_file =
      p.contains("checkpoint_file") ? text(p, "checkpoint_file") : s.path + ".checkpoints.jsonl";
  s.queue_capacity = positive_integer(p, "queue_capacity", s.queue_capacity);
  s.wal_checkpoint_pages = positive_integer(p, "wal_checkpoint_pages", s.wal_checkpoint_pages);
  s.busy_timeout = std::chrono::milliseconds(
      positive_integer(p, "busy_timeout_ms", static_cast<uint64_t>(s.busy_timeout.count()), 0));
  s.retry_max = std::chrono::milliseconds(
      positive_integer(p, "retry_max_ms", static_cast<uint64_t>(s.retry_max.count())));
  return s;
}

} // namespace th::audit
