// Fuzz: one webhook from raw bytes to a normalized signal. The first byte picks the source and
// options (the hmac source "test", or "tv" with TradingView's passphrase and mapping; an
// idempotency key or not); the rest is the body. Every body is signed with the known secret, so
// each input gets past authentication into JSON parsing, the mapping, schema validation,
// idempotency and the signal's encoding (checked by CheckingBus).
#include "fuzz_support.hpp"

#include "config/json_schema.hpp"
#include "gateway/gateway_config.hpp"
#include "gateway/webhook_client.hpp"
#include "gateway/webhook_handler.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"

#include <fstream>
#include <sstream>

namespace {

using namespace th;
using nlohmann::json;

constexpr int64_t now_s = 1736937000;
constexpr const char *secret = "fuzz-secret";

struct Fixture {
  Fixture() {
    log::set_level(log::Level::error);
    config = gateway::parse_gateway_config(json::parse(R"({
          "max_nonces": 4096, "max_idempotency_keys": 4096,
          "sources": {
            "test": {"secrets": ["fuzz-secret"], "rate_limit": {"rate_per_s": 1e9, "burst": 1e9},
                     "idempotency_fields": ["instrument", "timestamp"]},
            "tv": {"auth": "passphrase", "passphrases": ["fuzz-pass"],
                   "idempotency_fields": ["time", "ticker"],
                   "rate_limit": {"rate_per_s": 1e9, "burst": 1e9},
                   "mapping": {"instrument": {"from": "ticker", "after": ":", "upper": true},
                               "signal": {"from": "strategy.order_action", "lower": true},
                               "strength": {"from": "signal_strength", "default": 1.0, "number": true},
                               "price": {"from": "price", "number": true}}}}})"),
                                           {});
    std::ifstream in(fuzz::schema_file("signal.schema.json"));
    std::stringstream schema;
    schema << in.rdbuf();
    gateway::GatewayClock clock;
    clock.unix_seconds = [] { return now_s; };
    handler = std::make_unique<gateway::WebhookHandler>(config, JsonSchema::parse(schema.str()), bus, metrics,
                                                        clock);
  }
  gateway::GatewayConfig config;
  Metrics metrics;
  fuzz::CheckingBus bus;
  std::unique_ptr<gateway::WebhookHandler> handler;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static Fixture fixture;
  if (size == 0)
    return 0;
  const uint8_t options = data[0];
  std::string body(reinterpret_cast<const char *>(data) + 1, size - 1);
  const bool tv = options & 1;
  gateway::HeaderList headers;
  if (!tv)
    headers = gateway::sign_webhook(secret, body, now_s);
  if (options & 2)
    headers.emplace_back("X-Idempotency-Key", std::string(1, char('a' + (options >> 4))));
  std::vector<gateway::HttpHeader> views;
  for (const auto &[name, value] : headers)
    views.push_back({name, value});
  gateway::HttpRequest request;
  request.method = "POST";
  request.target = request.path = tv ? "/webhook/tv" : "/webhook/test";
  request.body = body;
  request.client_address = "127.0.0.1";
  request.headers = views;
  gateway::HttpResponse response = fixture.handler->handle(request);
  // Client input gets an answer from the contract, never a server error.
  if (response.status >= 500 && response.status != 503)
    std::abort();
  return 0;
}
