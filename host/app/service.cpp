#include "app/service.hpp"

#include "app/acceptance.hpp"
#include "app/admin_routes.hpp"
#include "app/health.hpp"
#include "app/lifecycle.hpp"
#include "gateway/gateway.hpp"
#include "observability/log.hpp"
#include "pipeline/hot_reload.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

namespace th::app {
namespace {

// The HTTP address of a process: the gateway's for the gateway role (and for `all`); the
// contract's per-role port otherwise (agent 8002, exec 8004, audit 8005).
std::string default_listen(unsigned roles) {
  if (roles & role_agent)
    return "127.0.0.1:8002";
  if (roles & role_exec)
    return "127.0.0.1:8004";
  return "127.0.0.1:8005";
}

} // namespace

struct Service::State {
  State(Runtime &r, unsigned ro, std::string l)
      : rt(r), roles(ro), listen(std::move(l)), config_path(r.deployment.file), lifecycle(r, ro) {}
  Runtime &rt;
  unsigned roles;
  std::string listen;
  std::string config_path;
  std::atomic<bool> running{false};
  AdminSection admin;
  nlohmann::json started_gateway; // the gateway section the server was built from
  std::unique_ptr<HotReload> reload;
  std::unique_ptr<DurableAcceptance> acceptance; // embedded bus: the gateway's inbox
  std::unique_ptr<gateway::Gateway> gateway;
  Lifecycle lifecycle;
  bool stopped = false;
};

// What a reload applies without a restart: the admin tokens, and the gateway's sources (secrets,
// passphrases and allow_ips rotate; secret files are read again). Connections and requests in
// progress are untouched.
void Service::add_live_sections() {
  State &s = *state_;
  s.reload->add_live_section("admin", [&s](const Deployment &next) {
    auto admin = std::make_shared<const nlohmann::json>(next.admin);
    HotReload::LiveChange change;
    if (*admin != *s.admin.load())
      change.changes.push_back("admin tokens replaced");
    change.apply = [&s, admin] { s.admin.store(admin); };
    return change;
  });
  if (!(s.roles & role_gateway))
    return;
  s.reload->add_live_section("gateway", [&s](const Deployment &next) {
    auto config = std::make_shared<gateway::GatewayConfig>(gateway::parse_gateway_config(next)); // throws
    auto without_sources = [](nlohmann::json section) {
      if (section.is_object())
        section.erase("sources");
      return section;
    };
    HotReload::LiveChange change;
    change.changes = s.gateway->source_changes(*config);
    if (without_sources(next.gateway) != without_sources(s.started_gateway))
      change.notes.push_back("gateway settings other than sources changed: take effect after a restart");
    change.apply = [&s, config] { s.gateway->replace_sources(*config); };
    return change;
  });
}

Service::Service(Runtime &rt, unsigned roles, std::string listen)
    : state_(std::make_unique<State>(rt, roles, std::move(listen))) {}

Service::~Service() {
  stop();
}

void Service::start() {
  State &s = *state_;
  Runtime &rt = s.rt;
  rt.open_portfolio_record(s.roles); // positions and PnL as the last process left them
  rt.open_trading_state(s.roles);    // active, reducing or halted, as the operator left it
  // Fail closed: every risk check, executor and audit sink runs, or nothing is served (exit 2).
  s.lifecycle.build();

  gateway::GatewayConfig config;
  if (s.roles & role_gateway) {
    config = gateway::parse_gateway_config(rt.deployment); // throws ConfigErrors
  } else {
    config.sources.clear();
    config.server.listen = default_listen(s.roles);
  }
  if (!s.listen.empty())
    config.server.listen = s.listen;

  s.reload = std::make_unique<HotReload>(rt.deployment, rt.registry, *rt.pipeline, rt.stage_context(),
                                         rt.host_corr_id);
  gateway::GatewayOptions options;
  options.health = [&s] { // the bus as the gateway sees it: with the inbox's own problem, if any
    return health_of(s.acceptance ? s.acceptance->gateway_bus() : *s.rt.bus, *s.rt.pipeline, s.running);
  };
  options.version = TRADEHOST_VERSION;
  s.acceptance = make_acceptance(rt.deployment, s.roles, *rt.bus, *rt.pipeline);
  Bus &gateway_bus = s.acceptance ? s.acceptance->gateway_bus() : *rt.bus;
  s.gateway =
      std::make_unique<gateway::Gateway>(std::move(config), gateway_bus, rt.metrics, std::move(options));
  s.admin.store(std::make_shared<const nlohmann::json>(rt.deployment.admin));
  s.started_gateway = rt.deployment.gateway;
  add_live_sections();
  add_host_routes(*s.gateway, rt, s.admin, s.roles);
  add_reload_route(*s.gateway, s.admin, *s.reload, s.config_path);
  s.lifecycle.start();
  s.running = true;
  if (s.acceptance) { // what an earlier process accepted and did not finish, before new webhooks
    s.acceptance->recover();
    s.acceptance->start_retiring();
  }
  s.reload->start();
  s.gateway->start();
  log::info("started", {{"deployment", rt.deployment.file},
                        {"port", s.gateway->port()},
                        {"bus", rt.bus->health().state},
                        {"plugins", rt.registry.libraries().size()},
                        {"instances", rt.pipeline->instances().size()}});
}

uint16_t Service::port() const {
  return state_->gateway ? state_->gateway->port() : 0;
}

void Service::reload() {
  state_->reload->reload(state_->config_path);
}

void Service::stop() {
  State &s = *state_;
  if (s.stopped)
    return;
  s.stopped = true;
  Runtime &rt = s.rt;
  if (s.gateway) {
    s.gateway->set_ready(false);
    s.gateway->stop();
  }
  if (s.reload)
    s.reload->stop_watching();
  bool drained = s.lifecycle.stop(std::chrono::seconds(30), [&s] {
    if (s.acceptance && s.lifecycle.bus_started())
      s.acceptance->close_after_clean_stop();
    s.running = false;
  });
  auto stats = rt.pipeline->stats();
  log::info("stopped", {{"drained", drained},
                        {"signals", stats.signals},
                        {"intents", stats.intents},
                        {"rejections", stats.rejections},
                        {"fills", stats.fills}});
}

int serve(Runtime &rt, unsigned roles, const sigset_t &signals, const std::string &listen) {
  Service service(rt, roles, listen);
  // SIGINT/SIGTERM are answered during start-up too (a JetStream bus may be retrying for
  // start_timeout_ms): this thread takes them and makes the bus's start() give up.
  std::atomic<bool> starting{true}, reload_pending{false};
  std::atomic<int> start_signal{0};
  std::thread watcher([&] {
    const timespec tick{0, 50'000'000};
    while (starting.load()) {
      int sig = sigtimedwait(&signals, nullptr, &tick);
      if (sig == SIGHUP) // applied once started
        reload_pending = true;
      if (sig == SIGINT || sig == SIGTERM) {
        start_signal = sig;
        log::info("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}, {"during", "start"}});
        rt.bus->cancel_start();
        return;
      }
    }
  });
  auto end_start = [&] {
    starting = false;
    watcher.join();
  };
  try {
    service.start();
  } catch (const ConfigErrors &e) {
    end_start();
    for (const auto &err : e.errors()) {
      std::fprintf(stderr, "error: %s\n", err.to_string().c_str());
      log::error("start_refused", {{"where", err.where.to_string()}, {"reason", err.message}});
    }
    service.stop();
    return 2;
  } catch (const BusStartCancelled &) {
    end_start();
    service.stop();
    return 0;
  } catch (const std::exception &e) {
    end_start();
    log::error("start_failed", {{"reason", e.what()}});
    service.stop();
    return start_signal ? 0 : 1;
  }
  end_start();
  if (start_signal) { // a signal while the last step of start-up finished
    service.stop();
    return 0;
  }
  if (reload_pending)
    service.reload();
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0)
      continue;
    if (sig == SIGHUP) {
      service.reload();
      continue;
    }
    log::info("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    break;
  }
  service.stop();
  return 0;
}

} // namespace th::app
