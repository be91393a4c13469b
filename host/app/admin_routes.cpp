#include "app/admin_routes.hpp"

#include "gateway/crypto.hpp"
#include "observability/log.hpp"

#include <audit_chain/head.hpp>
#include <audit_chain/verify.hpp>

#include <filesystem>
#include <optional>

namespace th::app {
namespace {

using gateway::HttpRequest;
using gateway::HttpResponse;
using gateway::json_error;

HttpResponse json_ok(const nlohmann::json &body) {
  return {200, "application/json", body.dump(), {}, false};
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

} // namespace

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

} // namespace th::app
