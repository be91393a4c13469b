// POST /webhook/{source}: source and address checks, authentication (HMAC signature or body
// passphrase), replay protection, rate limiting, JSON parsing, the source's mapping, schema
// validation, idempotency, and the hand-off to the bus. Answers per the contract's Webhook API.
#pragma once

#include "bus/bus.hpp"
#include "config/json_schema.hpp"
#include "gateway/client_address.hpp"
#include "gateway/gateway_config.hpp"
#include "gateway/http_types.hpp"
#include "gateway/idempotency_store.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/replay_guard.hpp"
#include "gateway/shared_requests.hpp"
#include "observability/metrics.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace th::gateway {

// Time sources, replaceable in tests (rate-limit recovery without sleeping, fixed "now").
struct GatewayClock {
  std::function<int64_t()> unix_seconds;                         // default: system clock
  std::function<std::chrono::steady_clock::time_point()> steady; // default: steady clock
};

class WebhookHandler {
public:
  WebhookHandler(const GatewayConfig &config, JsonSchema signal_schema, Bus &bus, Metrics &metrics,
                 GatewayClock clock = {});
  ~WebhookHandler();

  // Path prefix this handler serves.
  static constexpr std::string_view prefix = "/webhook/";

  HttpResponse handle(const HttpRequest &request);
  // The checks that need no body (source, address, signature headers), run by the server as the
  // headers arrive so a request that would be refused anyway is not read: a response refuses it.
  // handle() runs the same checks again.
  std::optional<HttpResponse> check_before_body(const HttpRequest &request);
  // GW-008 for a body over the limit (called by the server before the body is read).
  HttpResponse body_too_large(const HttpRequest &request);

  // "{source}_{23 hex}": Unix ms then a sequence, so ids sort by creation; the source part
  // reduced to [A-Za-z0-9_-] (at most 40 characters).
  static std::string mint_corr_id(std::string_view source);

  // Swaps in new sources (secrets, passphrases, allowlists, rate limits, mappings; sources added
  // or removed) for every request that starts from now on; a request in progress finishes with
  // the set it started with. Rate buckets and counters of a kept source carry over.
  void replace_sources(const std::map<std::string, SourceConfig, std::less<>> &sources);
  // The sources requests use now.
  std::map<std::string, SourceConfig, std::less<>> sources() const;

private:
  struct Source;
  struct Sources; // one immutable set of sources, swapped whole
  struct Outcome;
  HttpResponse fail(Source *source, const std::string &corr_id, int http_status, std::string_view code,
                    std::string_view message, const nlohmann::json &errors = nlohmann::json::array());
  void note_unknown_fields(const nlohmann::json &body, const std::string &corr_id);
  // The source in the current set; the pointer keeps that set alive for the request.
  std::shared_ptr<Source> find_source(std::string_view name) const;
  std::shared_ptr<const Sources> make_sources(const std::map<std::string, SourceConfig, std::less<>> &configs,
                                              const Sources *previous);
  // The checks of check_before_body(); `held` is set when the request names a configured source.
  std::optional<HttpResponse> check_headers(const HttpRequest &request, std::shared_ptr<Source> &held,
                                            const std::string &corr_id);

  const GatewayConfig &config_;
  JsonSchema schema_;
  Bus &bus_;
  Metrics &metrics_;
  GatewayClock clock_;
  ReplayGuard replay_;
  IdempotencyStore idempotency_;
  IdempotencyStore ambiguous_requests_;    // keyless signed requests whose 503 was ambiguous
  std::unique_ptr<SharedRequests> shared_; // on a shared bus: nonces and keys of every replica
  TrustedProxies proxies_;
  std::atomic<std::shared_ptr<const Sources>> sources_;
  std::unique_ptr<Source> unknown_source_; // metrics for requests naming no configured source
  prometheus::Counter *replays_blocked_;
  prometheus::Counter *json_errors_;
  prometheus::Counter *schema_errors_;
  prometheus::Counter *signals_published_; // tradehost_bus_published_total{subject="signals.normalized"}

  std::mutex unknown_mutex_;
  std::map<std::string, prometheus::Counter *, std::less<>> unknown_field_counters_; // bounded
};

} // namespace th::gateway
