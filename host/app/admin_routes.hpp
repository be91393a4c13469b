// The host's own HTTP routes on a running process, added to its HTTP server before it starts:
// GET /positions, GET /audit/head, GET /audit/verify, the operator's trading state
// (GET/POST /admin/trading-state, POST /admin/kill-switch) and POST /admin/reload. Admin routes
// need `Authorization: Bearer <admin token>` and are off without a configured token.
#pragma once

#include "app/runtime.hpp"
#include "gateway/gateway.hpp"
#include "pipeline/hot_reload.hpp"

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace th::app {

// The admin section the endpoints check, swapped whole by a reload (token rotation).
using AdminSection = std::atomic<std::shared_ptr<const nlohmann::json>>;

// Positions, audit and trading-state routes; `roles` says which of them this process can answer.
void add_host_routes(gateway::Gateway &gw, Runtime &rt, const AdminSection &admin, unsigned roles);
void add_reload_route(gateway::Gateway &gw, const AdminSection &admin, HotReload &reload,
                      std::string config_path);

} // namespace th::app
