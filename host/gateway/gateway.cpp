#include "gateway/gateway.hpp"

#include "observability/log.hpp"

#include <fstream>
#include <sstream>

namespace th::gateway {

using nlohmann::json;

namespace {
std::string read_file(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot read signal schema '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

JsonSchema load_schema(const GatewayConfig &config, const GatewayOptions &options) {
  std::string path;
  std::string text = options.signal_schema;
  if (text.empty()) {
    path = config.signal_schema_file.empty() ? find_signal_schema() : config.signal_schema_file;
    text = read_file(path);
  }
  try {
    return JsonSchema::parse(text);
  } catch (const std::exception &e) {
    throw std::runtime_error("signal schema '" + (path.empty() ? "(given text)" : path) +
                             "' is unusable: " + e.what());
  }
}

void warn_dev_secrets(const std::map<std::string, SourceConfig, std::less<>> &sources) {
  for (const auto &[name, source] : sources)
    if (source.uses_dev_default()) {
      // Name the variable the deployment reads it from, or else where it is set.
      bool hmac = source.auth == AuthMode::hmac;
      std::string where = !source.secret_variable.empty()
                              ? "the environment variable " + source.secret_variable
                              : "gateway.sources." + name + (hmac ? ".secrets" : ".passphrases");
      log::warn("gateway_dev_secret", {{"source", name},
                                       {"variable", source.secret_variable},
                                       {"message", "source '" + name + "' uses the development default " +
                                                       (hmac ? "secret" : "passphrase") + "; set " + where +
                                                       " before exposing the gateway"}});
    }
}
} // namespace

Gateway::Gateway(GatewayConfig config, Bus &bus, Metrics &metrics, GatewayOptions options)
    : config_(std::move(config)), bus_(bus), metrics_(metrics), options_(std::move(options)) {
  webhooks_ = std::make_unique<WebhookHandler>(config_, load_schema(config_, options_), bus_, metrics_,
                                               options_.clock);
  warn_dev_secrets(config_.sources);

  HttpServerOptions server_options = config_.server;
  // Refuse what needs no body (unknown source, address, missing signature headers) before reading it.
  server_options.on_headers = [this](const HttpRequest &r) -> std::optional<HttpResponse> {
    if (r.method == "POST" && r.path.substr(0, WebhookHandler::prefix.size()) == WebhookHandler::prefix)
      return webhooks_->check_before_body(r);
    return std::nullopt;
  };
  // A trusted proxy carries many clients on its connections.
  auto proxies = std::make_shared<TrustedProxies>(config_.trusted_proxies, config_.forwarded_header);
  if (!proxies->empty())
    server_options.exempt_from_client_limit = [proxies](std::string_view a) { return proxies->trusted(a); };
  server_options.on_body_too_large = [this](const HttpRequest &r) {
    if (r.path.substr(0, WebhookHandler::prefix.size()) == WebhookHandler::prefix)
      return webhooks_->body_too_large(r);
    return json_error(413, "GW-008: request body too large");
  };
  // Histograms per route pattern, resolved once (the label set is the route table plus "other").
  auto durations = std::make_shared<std::map<std::string, prometheus::Histogram *, std::less<>>>();
  server_options.on_response = [this, durations](std::string_view route, int, double seconds) {
    auto it = durations->find(route);
    if (it == durations->end())
      it = durations->find(std::string_view("other"));
    it->second->Observe(seconds);
  };
  server_ = std::make_unique<HttpServer>(std::move(server_options));
  durations_ = durations;

  auto &router = server_->router();
  router.add_prefix("POST", std::string(WebhookHandler::prefix),
                    [this](const HttpRequest &r) { return webhooks_->handle(r); });
  router.add("GET", "/healthz", [this](const HttpRequest &) { return healthz(); });
  router.add("GET", "/readyz", [this](const HttpRequest &) {
    HealthReport h = health();
    bool ok = ready_ && started_ && h.ok;
    HttpResponse r;
    r.status = ok ? 200 : 503;
    json body{{"ready", ok}};
    if (!h.problem.empty())
      body["reason"] = h.problem;
    r.body = body.dump();
    return r;
  });
  router.add("GET", "/metrics", [this](const HttpRequest &) {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_.serialize();
    return r;
  });
}

Gateway::~Gateway() {
  stop();
}

void Gateway::add_route(std::string method, std::string path, RouteHandler handler) {
  server_->router().add(std::move(method), std::move(path), std::move(handler));
}

void Gateway::add_prefix_route(std::string method, std::string prefix, RouteHandler handler) {
  server_->router().add_prefix(std::move(method), std::move(prefix), std::move(handler));
}

void Gateway::start() {
  if (started_)
    return;
  auto routes = server_->router().patterns();
  routes.push_back("other");
  for (const auto &route : routes)
    (*durations_)[route] =
        &metrics_.gateway_request_duration.Add({{"endpoint", route}}, Metrics::latency_buckets());
  server_->start();
  started_at_ = std::chrono::steady_clock::now();
  started_ = true;
  log::info("gateway_started", {{"listen", config_.server.listen},
                                {"port", server_->port()},
                                {"tls_port", server_->tls_port()},
                                {"sources", [&] {
                                   json names = json::array();
                                   for (auto &[n, s] : config_.sources)
                                     names.push_back(n);
                                   return names;
                                 }()}});
}

void Gateway::stop() {
  if (!started_.exchange(false))
    return;
  server_->stop();
  log::info("gateway_stopped");
}

std::vector<std::string> Gateway::source_changes(const GatewayConfig &next) const {
  std::vector<std::string> changes;
  auto now = webhooks_->sources();
  for (const auto &[name, source] : next.sources) {
    auto it = now.find(name);
    if (it == now.end())
      changes.push_back("gateway source '" + name + "' added");
    else if (!(it->second == source))
      changes.push_back("gateway source '" + name + "' updated");
  }
  for (const auto &[name, source] : now)
    if (!next.sources.count(name))
      changes.push_back("gateway source '" + name + "' removed");
  return changes;
}

void Gateway::replace_sources(const GatewayConfig &next) {
  webhooks_->replace_sources(next.sources);
  warn_dev_secrets(next.sources);
}

void Gateway::set_ready(bool ready) {
  ready_ = ready;
}
uint16_t Gateway::port() const {
  return server_->port();
}
uint16_t Gateway::tls_port() const {
  return server_->tls_port();
}

HealthReport Gateway::health() const {
  if (options_.health)
    return options_.health();
  HealthReport report;
  BusHealth bus = bus_.health();
  report.nats = bus.state.empty() ? "embedded" : bus.state;
  report.ok = report.nats != "disconnected";
  report.processor_status = started_ ? "active" : "stopped";
  if (!bus.consumers.empty()) {
    const auto &c = bus.consumers.front();
    report.consumer = {c.healthy ? "healthy" : "degraded", c.durable, c.filter_subject, c.num_pending,
                       c.num_waiting};
  }
  return report;
}

HttpResponse Gateway::healthz() const {
  HealthReport h = health();
  HttpResponse r;
  r.status = h.ok ? 200 : 503;
  json body{{"ok", h.ok},
            {"uptime_s",
             std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_at_)
                 .count()},
            {"version", options_.version},
            {"nats", h.nats},
            {"processor_status", h.processor_status},
            {"consumer",
             {{"status", h.consumer.status},
              {"durable_name", h.consumer.durable_name},
              {"filter_subject", h.consumer.filter_subject},
              {"num_pending", h.consumer.num_pending},
              {"num_waiting", h.consumer.num_waiting}}}};
  json sinks = json::array();
  bool audit_ok = true;
  for (const auto &s : h.audit_sinks) {
    audit_ok = audit_ok && s.available;
    json sink{{"sink", s.sink}, {"state", s.available ? "writable" : "unavailable"}};
    if (!s.available)
      sink["reason"] = s.reason;
    sinks.push_back(std::move(sink));
  }
  body["audit"] = {{"status", audit_ok ? "ok" : "unavailable"}, {"sinks", std::move(sinks)}};
  json agents = json::object();
  for (const auto &a : h.agents) {
    json agent{{"state", a.state}, {"plugin", a.plugin}};
    if (!a.reason.empty())
      agent["reason"] = a.reason;
    agents[a.id] = std::move(agent);
  }
  body["agents"] = std::move(agents);
  if (!h.problem.empty())
    body["problem"] = h.problem;
  r.body = body.dump();
  return r;
}

} // namespace th::gateway
