#include "app/service.hpp"

#include "app/acceptance.hpp"
#include "gateway/crypto.hpp"
#include "gateway/gateway.hpp"
#include "observability/log.hpp"
#include "pipeline/hot_reload.hpp"

#include <audit_chain/head.hpp>
#include <audit_chain/verify.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

namespace th::app {
namespace {

using gateway::HttpRequest;
using gateway::HttpResponse;
using gateway::json_error;

HttpResponse json_ok(const nlohmann::json &body) {
  return {200, "application/json", body.dump(), {}, false};
}

// The HTTP address of a process: the gateway's for the gateway role (and for `all`); the
// contract's per-role port otherwise (agent 8002, exec 8004, audit 8005).
std::string default_listen(unsigned roles) {
  if (roles & role_agent)
    return "127.0.0.1:8002";
  if (roles & role_exec)
    return "127.0.0.1:8004";
  return "127.0.0.1:8005";
}

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

// The audit-sqlite sinks' database paths, by sink id.
std::vector<std::pair<std::string, std::string>> audit_databases(const Deployment &d) {
  std::vector<std::pair<std::string, std::string>> dbs;
  for (const auto &s : d.audit)
    if (s.plugin.plugin == "audit-sqlite" && s.plugin.params.contains("path"))
      dbs.emplace_back(s.id, s.plugin.params["path"].get<std::string>());
  return dbs;
}

// What verification of a sink trusts: the public half of its signing key (KEY.key -> KEY.pub)
// and its checkpoint sidecar, when they exist.
audit::VerifyOptions verify_options(const Deployment &d, const std::string &sink_id) {
  audit::VerifyOptions o;
  for (const auto &s : d.audit) {
    if (s.id != sink_id)
      continue;
    const auto &p = s.plugin.params;
    if (auto key = p.value("signing_key", std::string()); !key.empty()) {
      auto pub = std::filesystem::path(key).replace_extension(".pub");
      if (std::filesystem::exists(pub))
        o.public_key_path = pub.string();
    }
    auto sidecar = p.value("checkpoint_file", p.value("path", std::string()) + ".checkpoints.jsonl");
    if (std::filesystem::exists(sidecar))
      o.checkpoint_file = sidecar;
  }
  return o;
}

// The admin section the endpoints check, swapped whole by a reload (token rotation).
using AdminSection = std::atomic<std::shared_ptr<const nlohmann::json>>;

// Admin endpoints need `Authorization: Bearer <admin.token>`; without a configured token they
// are off. Returns the refusal, or nullopt when the caller may proceed.
std::optional<HttpResponse> refuse_admin(const HttpRequest &req, const AdminSection &section,
                                         const char *token_field) {
  const std::shared_ptr<const nlohmann::json> admin = section.load();
  std::string token = admin->value(token_field, admin->value("token", ""));
  if (token.empty())
    return json_error(403, "admin endpoints are disabled: set admin.token");
  std::string_view auth = req.header("Authorization");
  constexpr std::string_view bearer = "Bearer ";
  if (auth.substr(0, bearer.size()) != bearer ||
      !gateway::constant_time_equal(auth.substr(bearer.size()), token))
    return json_error(401, "bad or missing admin token");
  return std::nullopt;
}

void add_reload_route(gateway::Gateway &gw, const AdminSection &admin, HotReload &reload,
                      std::string config_path) {
  gw.add_route("POST", "/admin/reload", [&admin, &reload, config_path](const HttpRequest &req) {
    if (auto refusal = refuse_admin(req, admin, "token"))
      return *refusal;
    auto r = reload.reload(config_path);
    HttpResponse response =
        json_ok({{"ok", r.ok}, {"changes", r.changes}, {"notes", r.notes}, {"errors", r.errors}});
    if (!r.ok)
      response.status = 422;
    return response;
  });
}

void add_host_routes(gateway::Gateway &gw, Runtime &rt, const AdminSection &admin, unsigned roles) {
  // Positions live where the fills are applied: the exec role's portfolio (of record) and the
  // agent role's mirror of the same fills. Elsewhere there is nothing true to show: 404 naming
  // the role that has them, never an empty list that reads as "flat".
  gw.add_route("GET", "/positions", [&rt, roles](const HttpRequest &) {
    if (!(roles & (role_exec | role_agent))) {
      HttpResponse r =
          json_ok({{"detail", "this process runs no portfolio: positions live in the exec role's "
                              "process (GET /positions there, default port 8004)"},
                   {"positions_role", "exec"}});
      r.status = 404;
      return r;
    }
    nlohmann::json body = rt.portfolio.snapshot();
    body["source"] = (roles & role_exec) ? "portfolio" : "mirror";
    return json_ok(body);
  });

  gw.add_route("GET", "/audit/head", [&rt](const HttpRequest &) {
    nlohmann::json sinks = nlohmann::json::array();
    for (const auto &[id, path] : audit_databases(rt.deployment)) {
      try {
        auto head = audit::to_json(audit::read_head(path));
        head["sink"] = id;
        sinks.push_back(head);
      } catch (const std::exception &e) {
        sinks.push_back({{"sink", id}, {"error", e.what()}});
      }
    }
    if (sinks.empty())
      return json_error(404, "no audit-sqlite sink in this deployment");
    nlohmann::json body = sinks.front();
    body["sinks"] = sinks;
    return json_ok(body);
  });

  gw.add_route("GET", "/audit/verify", [&rt](const HttpRequest &) {
    nlohmann::json results = nlohmann::json::array();
    for (const auto &[id, path] : audit_databases(rt.deployment)) {
      try {
        auto report = audit::verify(path, verify_options(rt.deployment, id));
        std::string status = report.ok() ? "valid" : "tampered";
        rt.metrics.audit_hash_validations.Add({{"status", status}})
            .Increment(static_cast<double>(report.rows));
        nlohmann::json r = {{"sink", id},
                            {"status", status},
                            {"rows", report.rows},
                            {"checkpoints", report.checkpoints},
                            {"signatures_checked", report.signatures_checked},
                            {"head_position", report.head_position}};
        if (report.first_problem)
          r["first_problem"] = {{"chain_position", report.first_problem->chain_position},
                                {"problem", audit::problem_name(report.first_problem->problem)},
                                {"detail", report.first_problem->detail}};
        results.push_back(r);
      } catch (const std::exception &e) {
        rt.metrics.audit_hash_validations.Add({{"status", "unreadable"}}).Increment();
        results.push_back({{"sink", id}, {"status", "unreadable"}, {"error", e.what()}});
      }
    }
    return json_ok({{"sinks", results}});
  });

  // The trading state (pipeline/trading_state.hpp): GET/POST /admin/trading-state, and the older
  // POST /admin/kill-switch {"enabled": true|false} as its alias (true: halted, false: active).
  // A change is answered 200 only once it is stored; 500 with the reason otherwise.
  auto no_trading_here = [roles]() -> std::optional<HttpResponse> {
    if (roles & (role_agent | role_exec))
      return std::nullopt;
    HttpResponse r =
        json_ok({{"detail", "this process neither decides nor executes: set the trading state on "
                            "the agent and exec processes"},
                 {"trading_state_roles", {"agent", "exec"}}});
    r.status = 404;
    return r;
  };
  auto change = [&rt](int32_t state, const HttpRequest &req, const std::string &route,
                      const std::string &reason) -> HttpResponse {
    std::string by = "POST " + route + " from " + std::string(req.client_address);
    auto c = rt.trading.set(state, by, reason);
    if (!c.ok) {
      log::error("trading_state_not_changed", {{"requested", trading_state_name(state)},
                                               {"state", trading_state_name(c.now)},
                                               {"reason", c.error}});
      HttpResponse r = json_ok({{"detail", c.error}, {"state", trading_state_name(c.now)}});
      r.status = 500;
      return r;
    }
    return json_ok({{"state", trading_state_name(c.now)},
                    {"previous", trading_state_name(c.previous)},
                    {"file", rt.trading.path()}});
  };
  gw.add_route("GET", "/admin/trading-state", [&rt, &admin, no_trading_here](const HttpRequest &req) {
    if (auto refusal = refuse_admin(req, admin, "trading_state_token"))
      return *refusal;
    if (auto r = no_trading_here())
      return *r;
    return json_ok({{"state", trading_state_name(rt.trading.get())}, {"file", rt.trading.path()}});
  });
  gw.add_route("POST", "/admin/trading-state", [&admin, no_trading_here, change](const HttpRequest &req) {
    if (auto refusal = refuse_admin(req, admin, "trading_state_token"))
      return *refusal;
    if (auto r = no_trading_here())
      return *r;
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    std::optional<int32_t> state;
    if (body.is_object() && body.contains("state") && body["state"].is_string())
      state = trading_state_from_name(body["state"].get<std::string>());
    if (!state || (body.contains("reason") && !body["reason"].is_string()))
      return json_error(422,
                        "body must be {\"state\": \"active\"|\"reducing\"|\"halted\", \"reason\": \"...\"}");
    return change(*state, req, "/admin/trading-state", body.value("reason", ""));
  });
  gw.add_route("POST", "/admin/kill-switch", [&admin, no_trading_here, change](const HttpRequest &req) {
    if (auto refusal = refuse_admin(req, admin, "kill_switch_token"))
      return *refusal;
    if (auto r = no_trading_here())
      return *r;
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("enabled") || !body["enabled"].is_boolean())
      return json_error(422, "body must be {\"enabled\": true|false}");
    bool enabled = body["enabled"].get<bool>();
    HttpResponse r =
        change(enabled ? TH_TRADING_HALTED : TH_TRADING_ACTIVE, req, "/admin/kill-switch", "kill switch");
    if (r.status == 200) {
      auto j = nlohmann::json::parse(r.body);
      j["kill_switch"] = enabled;
      r.body = j.dump();
    }
    return r;
  });
}

} // namespace

struct Service::State {
  State(Runtime &r, unsigned ro, std::string l)
      : rt(r), roles(ro), listen(std::move(l)), config_path(r.deployment.file) {}
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
  bool bus_starting = false, bus_started = false;
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
  if (auto errors = rt.pipeline->build(s.roles); !errors.empty())
    throw ConfigErrors(std::move(errors));

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
  if (auto errors = rt.pipeline->start(); !errors.empty())
    throw ConfigErrors(std::move(errors));
  s.bus_starting = true;
  if (rt.trading.get() == TH_TRADING_HALTED && (s.roles & role_exec))
    rt.pipeline->execution().cancel_all(); // restored halted: nothing may work at a venue
  rt.bus->start();
  s.bus_started = true;
  s.running = true;
  rt.audit_startup();
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
  // A bus that never started has nothing to drain (a start that failed or was interrupted).
  bool drained = s.bus_started ? rt.bus->wait_idle(std::chrono::seconds(30)) : true;
  rt.pipeline->stop();
  if (s.acceptance && s.bus_started)
    s.acceptance->close_after_clean_stop();
  s.running = false;
  if (s.bus_starting)
    rt.bus->stop();
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
