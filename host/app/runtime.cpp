#include "app/runtime.hpp"

#include "bus/embedded_bus.hpp"
#include "bus/jetstream_bus.hpp"
#include "bus/sequential_bus.hpp"
#include "events/json_codec.hpp"
#include "loader/plugin_params.hpp"
#include "observability/log.hpp"
#include "pipeline/hot_reload.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

namespace th::app {
namespace {

void print_errors(const ConfigErrors &e) {
  for (const auto &err : e.errors())
    std::fprintf(stderr, "error: %s\n", err.to_string().c_str());
}

} // namespace

void Runtime::audit_startup() {
  auto now = clock.now_ns();
  auto record = [&](std::string type, std::string id, const nlohmann::json &data) {
    AuditRecord r{std::move(id), host_corr_id, std::move(type), now, "host", data.dump()};
    Message m{Subject::audit_event, r, r.event_id};
    bus->publish(m);
  };
  record("config_loaded", "config_loaded:" + host_corr_id,
         {{"file", deployment.file}, {"sha256", sha256_of_file(deployment.file)}, {"name", deployment.name}});
  for (const auto &lib : registry.libraries()) {
    const auto &id = lib->identity();
    record("plugin_loaded", "plugin_loaded:" + host_corr_id + ":" + id.sha256,
           {{"name", id.name},
            {"version", id.version},
            {"kind", kind_name(id.kind)},
            {"abi", std::to_string(id.abi_major) + "." + std::to_string(id.abi_minor)},
            {"path", id.path.string()},
            {"sha256", id.sha256}});
  }
}

void Runtime::open_portfolio_record(unsigned roles) {
  if (!(roles & (role_exec | role_agent)))
    return;
  std::string file =
      deployment.data_dir + "/portfolio/" + ((roles & role_exec) ? "fills.jsonl" : "agent-mirror.jsonl");
  auto [fills, torn] = portfolio.open_record(file, deployment.bus.inbox_fsync);
  auto positions = portfolio.snapshot()["positions"];
  log::info("portfolio_restored", {{"file", file},
                                   {"fills", fills},
                                   {"torn_bytes", torn},
                                   {"books", positions.size()},
                                   {"role", (roles & role_exec) ? "portfolio" : "mirror"}});
}

void Runtime::open_trading_state(unsigned roles) {
  trading.open(deployment.data_dir + "/trading_state.json");
  auto set_gauge = [this](int32_t now) {
    for (int32_t s : {TH_TRADING_ACTIVE, TH_TRADING_REDUCING, TH_TRADING_HALTED})
      metrics.trading_state.Add({{"state", std::string(trading_state_name(s))}}).Set(s == now ? 1 : 0);
  };
  set_gauge(trading.get());
  log::info("trading_state_restored",
            {{"state", trading_state_name(trading.get())}, {"file", trading.path()}});
  trading.on_change([this, roles, set_gauge](int32_t previous, int32_t now, const std::string &by,
                                             const std::string &reason) {
    set_gauge(now);
    log::warn("trading_state_changed", {{"previous", trading_state_name(previous)},
                                        {"state", trading_state_name(now)},
                                        {"by", by},
                                        {"reason", reason}});
    auto at = clock.now_ns();
    nlohmann::json data = {{"previous", trading_state_name(previous)},
                           {"state", trading_state_name(now)},
                           {"by", by},
                           {"reason", reason},
                           {"file", trading.path()}};
    std::string id = "trading_state_changed:" + host_corr_id + ":" + std::to_string(at);
    AuditRecord r{id, host_corr_id, "trading_state_changed", at, "host", data.dump()};
    Message m{Subject::audit_event, r, r.event_id};
    if (bus->publish(m) != PublishStatus::ok)
      log::error("publish_failed", {{"subject", "audit.event"}, {"event", "trading_state_changed"}});
    if (now == TH_TRADING_HALTED && (roles & role_exec))
      pipeline->execution().cancel_all();
  });
}

std::unique_ptr<Runtime> load_runtime(const std::string &config_path, BusChoice bus) {
  auto rt = std::make_unique<Runtime>();
  try {
    rt->deployment = load_deployment(config_path);
  } catch (const ConfigErrors &e) {
    print_errors(e);
    return nullptr;
  }
  const Deployment &d = rt->deployment;
  if (auto level = log::level_from_name(d.logging.level))
    log::set_level(*level);
  if (!d.logging.file.empty())
    log::set_file(d.logging.file);

  rt->registry.set_load_options(load_options_for(d));
  rt->registry.scan(d.plugin_dirs);
  for (const auto &refusal : rt->registry.refusals())
    std::fprintf(stderr, "warning: plugin refused: %s: %s\n", refusal.path.c_str(), refusal.reason.c_str());
  std::vector<ConfigError> waiting; // agents whose strategy plugin is not loaded yet: they wait
  auto errors = validate_plugin_params(d, rt->registry, &waiting);
  for (const auto &w : waiting)
    std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
  if (!errors.empty()) {
    print_errors(ConfigErrors(std::move(errors)));
    return nullptr;
  }

  std::mt19937_64 rng(std::random_device{}());
  char id[40];
  std::snprintf(id, sizeof id, "host_%016llx", static_cast<unsigned long long>(rng()));
  rt->host_corr_id = id;

  if (bus == BusChoice::sequential) {
    rt->bus = make_sequential_bus();
  } else if (bus == BusChoice::embedded || d.bus.kind == "embedded") {
    rt->bus = make_embedded_bus({d.bus.queue_capacity});
  } else {
    try {
      rt->bus = make_jetstream_bus(parse_jetstream_options(d.bus.jetstream, [&d](std::string_view pointer) {
        return d.locate("/bus/jetstream" + std::string(pointer));
      }));
    } catch (const ConfigErrors &e) {
      print_errors(e);
      return nullptr;
    }
  }
  rt->pipeline = std::make_unique<Pipeline>(rt->deployment, rt->registry, rt->stage_context());
  Runtime *runtime = rt.get(); // owns the metrics: lives as long as their scrapes
  rt->metrics.on_collect([runtime] { runtime->collect_metrics(); });
  return rt;
}

void Runtime::collect_metrics() {
  const nlohmann::json snapshot = portfolio.snapshot(); // kept: the loop reads into it
  for (const auto &p : snapshot["positions"]) {
    const std::map<std::string, std::string> labels{{"agent_id", p.value("agent_id", "")},
                                                    {"instrument", p.value("instrument", "")}};
    metrics.position.Add(labels).Set(p.value("quantity", 0.0));
    metrics.realized_pnl.Add(labels).Set(p.value("realized_pnl", 0.0));
    metrics.unrealized_pnl.Add(labels).Set(p.value("unrealized_pnl", 0.0));
  }
  for (const auto &c : bus->health().consumers)
    metrics.consumer_pending.Add({{"durable", c.durable}}).Set(static_cast<double>(c.num_pending));
}

} // namespace th::app
