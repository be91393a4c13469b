// The gateway as the host uses it: an HTTP server carrying POST /webhook/{source}, GET /healthz,
// GET /readyz and GET /metrics, to which the host adds its own routes before start().
//
//   th::gateway::Gateway gw(th::gateway::parse_gateway_config(deployment), bus, metrics,
//                           {.health = [&] { return my_health(); }, .version = TRADEHOST_VERSION});
//   gw.add_route("GET", "/positions", handler);
//   gw.start();  ...  gw.stop();
#pragma once

#include "bus/bus.hpp"
#include "gateway/gateway_config.hpp"
#include "gateway/http_server.hpp"
#include "gateway/webhook_handler.hpp"
#include "observability/metrics.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace th::gateway {

// What /healthz reports beyond uptime and version (contract: Health and metrics).
struct HealthReport {
  bool ok = true;
  std::string nats = "embedded";           // connected | disconnected | embedded
  std::string processor_status = "active"; // active | stopped
  struct Consumer {
    std::string status = "healthy"; // healthy | degraded
    std::string durable_name;
    std::string filter_subject;
    uint64_t num_pending = 0;
    uint64_t num_waiting = 0;
  } consumer;
  // This process's audit sinks; while one cannot write, ok is false (intents are rejected).
  struct AuditSink {
    std::string sink;
    bool available = true;
    std::string reason;
  };
  std::vector<AuditSink> audit_sinks;
  // This process's agents: running, waiting (strategy plugin not loaded yet) or failed. Neither
  // waiting nor failed makes the process unhealthy (nothing trades unchecked).
  struct Agent {
    std::string id, plugin, state, reason;
  };
  std::vector<Agent> agents;
  // Why ok is false, for people (e.g. "audit sink 'audit' unavailable: ..."); empty when ok.
  std::string problem;
};

struct GatewayOptions {
  // The host's view of the pipeline; when empty, the report is derived from Bus::health()
  // (its first consumer, ok unless the bus is disconnected).
  std::function<HealthReport()> health;
  std::string version = "0.0.0";
  GatewayClock clock;        // tests only
  std::string signal_schema; // schema text; empty = read config.signal_schema_file or find_signal_schema()
};

class Gateway {
public:
  // Reads the signal schema and warns (without printing them) about development secrets.
  // Throws std::runtime_error when the schema cannot be read or parsed.
  Gateway(GatewayConfig config, Bus &bus, Metrics &metrics, GatewayOptions options = {});
  ~Gateway();

  // Routes added before start(); handlers run on the io threads and must not block for long.
  void add_route(std::string method, std::string path, RouteHandler handler);
  void add_prefix_route(std::string method, std::string prefix, RouteHandler handler);

  void start(); // binds (throws std::runtime_error naming the address) and serves
  void stop();  // idempotent

  // /readyz answers 503 while not ready (e.g. during shutdown); ready by default once started.
  void set_ready(bool ready);

  uint16_t port() const;
  uint16_t tls_port() const;
  // The configuration the gateway started with (sources: see replace_sources()).
  const GatewayConfig &config() const { return config_; }

  // Secret rotation without a restart: the sources of `next` (secrets, passphrases, allow_ips,
  // rate limits, mappings, sources added or removed) serve every request from now on; requests
  // in progress finish with the sources they started with and no connection is dropped. Other
  // settings of `next` need a restart and are not applied. source_changes() says what would
  // change (source names only, never a secret).
  std::vector<std::string> source_changes(const GatewayConfig &next) const;
  void replace_sources(const GatewayConfig &next);

private:
  HttpResponse healthz() const;
  HealthReport health() const;

  GatewayConfig config_;
  Bus &bus_;
  Metrics &metrics_;
  GatewayOptions options_;
  std::unique_ptr<WebhookHandler> webhooks_;
  std::unique_ptr<HttpServer> server_;
  std::shared_ptr<std::map<std::string, prometheus::Histogram *, std::less<>>> durations_; // by route
  std::atomic<bool> ready_{true};
  std::atomic<bool> started_{false};
  std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
};

} // namespace th::gateway
