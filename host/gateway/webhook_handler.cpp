#include "gateway/webhook_handler.hpp"

#include "events/json_codec.hpp"
#include "events/json_depth.hpp"
#include "events/utf8.hpp"
#include "gateway/crypto.hpp"
#include "gateway/passphrase_field.hpp"
#include "gateway/request_id.hpp"
#include "gateway/source_mapping.hpp"
#include "observability/log.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <random>

namespace th::gateway {

using nlohmann::json;

namespace {

// The status label of gateway_webhooks_received_total: a small fixed set.
enum Status : size_t {
  accepted,
  duplicate,
  unauthorized,
  replay,
  forbidden,
  rate_limited,
  invalid_json,
  invalid,
  conflict,
  too_large,
  unavailable,
  unknown_source,
  status_count
};
constexpr std::array<const char *, status_count> status_names{
    "success",      "duplicate", "unauthorized", "replay",    "forbidden",   "rate_limited",
    "invalid_json", "invalid",   "conflict",     "too_large", "unavailable", "unknown_source"};

Status status_of(std::string_view code, int http_status) {
  if (code == "GW-001")
    return unauthorized;
  if (code == "GW-002")
    return replay;
  if (code == "GW-003")
    return rate_limited;
  if (code == "GW-004")
    return http_status == 400 ? invalid_json : invalid;
  if (code == "GW-005")
    return conflict;
  if (code == "GW-006")
    return unknown_source;
  if (code == "GW-007")
    return forbidden;
  if (code == "GW-008")
    return too_large;
  return unavailable;
}

// The body fields a signal models; everything else is passed on as an unknown field.
bool is_known_field(std::string_view k) {
  return k == "instrument" || k == "price" || k == "signal" || k == "strength" || k == "metadata" ||
         k == "timestamp";
}
// Fields the gateway sets itself; a body's own values are dropped (and counted as unknown).
bool is_reserved_field(std::string_view k) {
  return k == "corr_id" || k == "source" || k == "parent_corr_id" || k == "received_at";
}

std::string field_of(const std::string &pointer) {
  if (pointer.empty())
    return "body";
  std::string f = pointer.substr(1);
  for (auto &c : f)
    if (c == '/')
      c = '.';
  return f;
}

bool parse_unix_seconds(std::string_view text, int64_t &out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

TimeNs now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

struct WebhookHandler::Source {
  const SourceConfig *config = nullptr; // in its Sources; null for the unknown-source bucket
  std::string name;
  std::shared_ptr<TokenBucket> bucket; // kept across replace_sources() while the limit is the same
  std::array<prometheus::Counter *, status_count> received{};
  prometheus::Counter *rate_limited = nullptr;
  std::vector<WebhookSigner> signers;                      // one per active secret
  std::vector<std::array<uint8_t, 32>> passphrase_digests; // compared digest to digest
  std::set<std::string, std::less<>> allowed;

  void count(Status s) { received[s]->Increment(); }
};

struct WebhookHandler::Sources {
  std::map<std::string, SourceConfig, std::less<>> configs;
  std::map<std::string, std::unique_ptr<Source>, std::less<>> by_name;
};

std::string WebhookHandler::mint_corr_id(std::string_view source) {
  std::string id;
  id.reserve(58);
  for (char c : source) {
    if (id.size() == 40)
      break;
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')
      id.push_back(c);
  }
  if (id.empty())
    id = "unknown";
  id.push_back('_');
  // Time first, so corr_ids (and every id derived from them: audit event ids, fill ids) sort by
  // creation and the audit index grows at its end instead of rewriting random pages. 11 hex
  // digits of Unix milliseconds (enough until the year 2527), then 12 of a per-thread sequence
  // that starts at a random point, which keeps ids unique across threads and processes.
  thread_local uint64_t sequence = [] {
    std::random_device device;
    return (uint64_t{device()} << 32) | device();
  }();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  char hex[24];
  std::snprintf(hex, sizeof hex, "%011llx%012llx", static_cast<unsigned long long>(ms) & 0xfffffffffffULL,
                static_cast<unsigned long long>(sequence++ & 0xffffffffffffULL));
  id.append(hex, 23);
  return id;
}

WebhookHandler::WebhookHandler(const GatewayConfig &config, JsonSchema signal_schema, Bus &bus,
                               Metrics &metrics, GatewayClock clock)
    : config_(config), schema_(std::move(signal_schema)), bus_(bus), metrics_(metrics),
      clock_(std::move(clock)), replay_(config.replay_window_s, config.max_nonces),
      idempotency_(config.idempotency_ttl_s, config.max_idempotency_keys),
      ambiguous_requests_(config.replay_window_s * 2, 100'000),
      proxies_(config.trusted_proxies, config.forwarded_header),
      replays_blocked_(&metrics.gateway_replay_attacks_blocked.Add({})),
      json_errors_(&metrics.gateway_validation_errors.Add({{"type", "json"}})),
      schema_errors_(&metrics.gateway_validation_errors.Add({{"type", "schema"}})),
      signals_published_(
          &metrics.bus_published.Add({{"subject", std::string(subject_name(Subject::signals_normalized))}})) {
  // Shared with every replica on a JetStream bus; the embedded bus keeps them in memory only.
  auto nonces =
      bus_.key_value("nonces", std::chrono::seconds(2 * std::max<int64_t>(config.replay_window_s, 1)));
  auto keys = nonces ? bus_.key_value("idempotency",
                                      std::chrono::seconds(std::max<int64_t>(config.idempotency_ttl_s, 1)))
                     : nullptr;
  if (nonces && keys) {
    const int64_t publish_s =
        std::chrono::duration_cast<std::chrono::seconds>(config.publish_timeout).count();
    shared_ = std::make_unique<SharedRequests>(std::move(nonces), std::move(keys), 2 * publish_s + 5);
  }
  if (!clock_.unix_seconds)
    clock_.unix_seconds = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  if (!clock_.steady)
    clock_.steady = [] { return std::chrono::steady_clock::now(); };
  sources_.store(make_sources(config.sources, nullptr));
  unknown_source_ = std::make_unique<Source>();
  unknown_source_->name = "_unknown";
  for (size_t i = 0; i < status_count; ++i)
    unknown_source_->received[i] =
        &metrics.gateway_webhooks_received.Add({{"source", "_unknown"}, {"status", status_names[i]}});
}

WebhookHandler::~WebhookHandler() = default;

std::shared_ptr<const WebhookHandler::Sources>
WebhookHandler::make_sources(const std::map<std::string, SourceConfig, std::less<>> &configs,
                             const Sources *previous) {
  auto set = std::make_shared<Sources>();
  set->configs = configs;
  for (auto &[name, sc] : set->configs) {
    auto s = std::make_unique<Source>();
    s->config = &sc;
    s->name = name;
    for (size_t i = 0; i < status_count; ++i)
      s->received[i] =
          &metrics_.gateway_webhooks_received.Add({{"source", name}, {"status", status_names[i]}});
    s->rate_limited = &metrics_.gateway_rate_limit_exceeded.Add({{"client", name}});
    // The same limit keeps its bucket: a reload neither refills nor empties it.
    if (previous)
      if (auto old = previous->by_name.find(name); old != previous->by_name.end() &&
                                                   old->second->config->rate_per_s == sc.rate_per_s &&
                                                   old->second->config->burst == sc.burst)
        s->bucket = old->second->bucket;
    if (!s->bucket)
      s->bucket = std::make_shared<TokenBucket>(sc.rate_per_s, sc.burst, clock_.steady());
    for (auto &secret : sc.secrets)
      s->signers.emplace_back(secret);
    for (auto &p : sc.passphrases)
      s->passphrase_digests.push_back(sha256(p));
    s->allowed.insert(sc.allow_ips.begin(), sc.allow_ips.end());
    set->by_name.emplace(name, std::move(s));
  }
  return set;
}

void WebhookHandler::replace_sources(const std::map<std::string, SourceConfig, std::less<>> &sources) {
  std::shared_ptr<const Sources> previous = sources_.load();
  sources_.store(make_sources(sources, previous.get()));
}

std::map<std::string, SourceConfig, std::less<>> WebhookHandler::sources() const {
  return sources_.load()->configs;
}

std::shared_ptr<WebhookHandler::Source> WebhookHandler::find_source(std::string_view name) const {
  std::shared_ptr<const Sources> set = sources_.load();
  auto it = set->by_name.find(name);
  if (it == set->by_name.end())
    return nullptr;
  return std::shared_ptr<Source>(set, it->second.get()); // shares ownership of the whole set
}

HttpResponse WebhookHandler::fail(Source *source, const std::string &corr_id, int http_status,
                                  std::string_view code, std::string_view message, const json &errors) {
  (source ? source : unknown_source_.get())->count(status_of(code, http_status));
  HttpResponse r;
  r.status = http_status;
  json body = {
      {"detail", std::string(code) + ": " + std::string(message)}, {"corr_id", corr_id}, {"errors", errors}};
  r.body = body.dump(-1, ' ', false,
                     json::error_handler_t::replace); // names from the request may be invalid UTF-8
  log::info(
      "webhook_refused",
      {{"source", source ? source->name : "_unknown"}, {"status", http_status}, {"detail", body["detail"]}},
      corr_id);
  return r;
}

HttpResponse WebhookHandler::body_too_large(const HttpRequest &request) {
  auto name = request.path.substr(std::min(request.path.size(), prefix.size()));
  std::shared_ptr<Source> held = find_source(name);
  Source *source = held.get();
  return fail(source, mint_corr_id(name), 413, "GW-008",
              "request body over the limit of " + std::to_string(config_.server.max_body_bytes) + " bytes",
              json::array({{{"field", "body"},
                            {"message",
                             "larger than " + std::to_string(config_.server.max_body_bytes) + " bytes"}}}));
}

void WebhookHandler::note_unknown_fields(const json &body, const std::string &corr_id) {
  for (auto &[key, value] : body.items()) {
    if (is_known_field(key))
      continue;
    prometheus::Counter *counter = nullptr;
    {
      std::lock_guard lock(unknown_mutex_);
      auto it = unknown_field_counters_.find(key);
      if (it == unknown_field_counters_.end()) {
        // Bounded label set: past 256 names everything counts under "_other" and is not logged.
        // Cut on a character boundary: a label value must stay valid UTF-8 (promtool).
        std::string label =
            unknown_field_counters_.size() < 256 ? std::string(utf8_prefix(key, 64)) : "_other";
        if (label != "_other")
          log::info("unknown_field", {{"field_name", label}}, corr_id);
        counter = &metrics_.unknown_fields.Add({{"field_name", label}});
        if (label != "_other")
          unknown_field_counters_.emplace(key, counter);
      } else {
        counter = it->second;
      }
    }
    counter->Increment();
  }
}

std::optional<HttpResponse> WebhookHandler::check_before_body(const HttpRequest &request) {
  std::string_view name = request.path.substr(std::min(request.path.size(), prefix.size()));
  std::shared_ptr<Source> held; // this request's sources, whatever a reload swaps in
  return check_headers(request, held, mint_corr_id(name));
}

std::optional<HttpResponse> WebhookHandler::check_headers(const HttpRequest &request,
                                                          std::shared_ptr<Source> &held,
                                                          const std::string &corr_id) {
  std::string_view name = request.path.substr(std::min(request.path.size(), prefix.size()));
  held = find_source(name);
  Source *source = held.get();
  if (!source)
    return fail(nullptr, corr_id, 404, "GW-006",
                "unknown webhook source '" + std::string(utf8_prefix(name, 64)) + "'");
  const SourceConfig &sc = *source->config;
  if (!sc.enabled)
    return fail(source, corr_id, 403, "GW-007", "source '" + sc.name + "' is disabled");
  if (!source->allowed.empty()) {
    std::string client = proxies_.client_of(request);
    if (!source->allowed.count(client))
      return fail(source, corr_id, 403, "GW-007",
                  "client address " + client + " is not allowed for source '" + sc.name + "'",
                  json::array({{{"field", "client_address"},
                                {"message", client + " is not on the source's allowlist"}}}));
  }
  if (sc.auth != AuthMode::hmac)
    return std::nullopt;
  auto timestamp = request.header("X-Timestamp");
  auto nonce = request.header("X-Nonce");
  auto signature = request.header("X-Signature");
  json missing;
  if (timestamp.empty())
    missing.push_back({{"field", "X-Timestamp"}, {"message", "header required"}});
  if (nonce.empty())
    missing.push_back({{"field", "X-Nonce"}, {"message", "header required"}});
  if (signature.empty())
    missing.push_back({{"field", "X-Signature"}, {"message", "header required"}});
  if (!missing.is_null())
    return fail(source, corr_id, 401, "GW-001", "missing signature headers", missing);
  int64_t timestamp_s = 0;
  if (!parse_unix_seconds(timestamp, timestamp_s))
    return fail(source, corr_id, 401, "GW-001", "X-Timestamp is not unix seconds",
                json::array({{{"field", "X-Timestamp"}, {"message", "must be an integer (unix seconds)"}}}));
  if (nonce.size() > 128)
    return fail(source, corr_id, 401, "GW-001", "X-Nonce longer than 128 characters",
                json::array({{{"field", "X-Nonce"}, {"message", "at most 128 characters"}}}));
  return std::nullopt;
}

HttpResponse WebhookHandler::handle(const HttpRequest &request) {
  std::string_view name = request.path.substr(std::min(request.path.size(), prefix.size()));
  std::string corr_id = mint_corr_id(name); // sanitised, so an unknown name is safe too
  std::shared_ptr<Source> held;             // this request's sources, whatever a reload swaps in
  if (auto refusal = check_headers(request, held, corr_id))
    return std::move(*refusal);
  Source *source = held.get();
  const SourceConfig &sc = *source->config;

  int64_t now_s = clock_.unix_seconds();
  std::optional<IdempotencyStore::Digest> digest; // of the body, when first needed
  auto body_digest = [&]() -> const IdempotencyStore::Digest & {
    if (!digest)
      digest = sha256(request.body);
    return *digest;
  };
  std::string_view nonce, timestamp;
  if (sc.auth == AuthMode::hmac) {
    timestamp = request.header("X-Timestamp");
    nonce = request.header("X-Nonce");
    auto signature = request.header("X-Signature");
    int64_t timestamp_s = 0;
    parse_unix_seconds(timestamp, timestamp_s); // checked by check_headers
    if (signature.substr(0, 7) == "sha256=")
      signature.remove_prefix(7);
    bool valid = false;
    for (const auto &signer : source->signers) // every active secret: key rotation
      valid |= signer.verify(timestamp, nonce, request.body, signature);
    if (!valid)
      return fail(
          source, corr_id, 401, "GW-001", "signature does not match",
          json::array({{{"field", "X-Signature"},
                        {"message", "not the HMAC-SHA256 of timestamp.nonce.body with an active secret"}}}));
    auto verdict = replay_.check(sc.name, nonce, timestamp_s, now_s);
    if (verdict == ReplayGuard::Verdict::ok && shared_) {
      std::string first;
      switch (shared_->use_nonce(sc.name, nonce, body_digest(), first)) {
      case SharedRequests::Nonce::fresh:
        break;
      case SharedRequests::Nonce::retry: // the same request after its ambiguous 503
        corr_id = std::move(first);
        break;
      case SharedRequests::Nonce::reused:
        verdict = ReplayGuard::Verdict::reused_nonce;
        break;
      case SharedRequests::Nonce::unavailable:
        replay_.forget(sc.name, nonce);
        return fail(source, corr_id, 503, "GW-009",
                    "replay protection cannot be checked (the shared nonce store did not answer); nothing "
                    "was accepted: retry");
      }
    }
    if (verdict != ReplayGuard::Verdict::ok) {
      replays_blocked_->Increment();
      bool stale = verdict == ReplayGuard::Verdict::stale_timestamp;
      return fail(source, corr_id, 401, "GW-002",
                  stale ? "timestamp outside the replay window of " +
                              std::to_string(config_.replay_window_s) + " s"
                        : "nonce already used",
                  json::array({{{"field", stale ? "X-Timestamp" : "X-Nonce"},
                                {"message", stale ? "outside the replay window" : "already seen"}}}));
    }
  }
  // Past this point a refusal gives the nonce back, so the same signed request may be retried.
  auto forget_nonce = [&] {
    if (nonce.empty())
      return;
    replay_.forget(sc.name, nonce);
    if (shared_)
      shared_->forget_nonce(sc.name, nonce);
  };
  auto refuse = [&](int http_status, std::string_view code, std::string_view message,
                    const json &errors = json::array()) {
    forget_nonce();
    return fail(source, corr_id, http_status, code, message, errors);
  };

  // Nesting is bounded before anything can recurse on it (copies, dump(), validation).
  if (auto depth = check_json_depth(request.body, config_.max_json_depth); !depth.ok) {
    json_errors_->Increment();
    return refuse(400, "GW-004",
                  "body nested deeper than " + std::to_string(config_.max_json_depth) + " levels",
                  json::array({{{"field", depth.field.empty() ? "body" : depth.field},
                                {"message", "nested deeper than " + std::to_string(config_.max_json_depth) +
                                                " levels (arrays and objects)"}}}));
  }
  auto not_json = [&](const std::string &why) {
    json_errors_->Increment();
    return refuse(400, "GW-004", "body is not JSON", json::array({{{"field", "body"}, {"message", why}}}));
  };

  if (sc.auth == AuthMode::passphrase) {
    // Authenticate from one scan of the text, before a document is built for the body.
    auto scan = scan_passphrase(request.body, sc.passphrase_field);
    if (!scan.json_ok)
      return not_json("not JSON (at byte " + std::to_string(scan.byte) + ")");
    bool valid = false;
    if (scan.value) {
      auto digest = sha256(*scan.value);
      std::string_view d(reinterpret_cast<const char *>(digest.data()), digest.size());
      for (const auto &p : source->passphrase_digests)
        valid |= constant_time_equal(std::string_view(reinterpret_cast<const char *>(p.data()), p.size()), d);
    }
    if (!valid)
      return refuse(401, "GW-001", "passphrase missing or wrong",
                    json::array({{{"field", sc.passphrase_field},
                                  {"message", "missing or not an active passphrase"}}}));
  }

  json body;
  try {
    body = json::parse(request.body);
  } catch (const json::parse_error &e) {
    return not_json("not JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception &) { // out_of_range.406: a number beyond a double, e.g. 1e400
    return not_json("a number is out of range (beyond a double)");
  }
  if (sc.auth == AuthMode::passphrase)
    erase_found_field(body, sc.passphrase_field); // never passed on, wherever it was found

  int retry_after_s = 1;
  if (!source->bucket->try_take(clock_.steady(), retry_after_s)) {
    source->rate_limited->Increment();
    auto r = refuse(429, "GW-003", "rate limit exceeded for source '" + sc.name + "'");
    r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
    return r;
  }

  // The idempotency key: the header, else one derived from the configured body fields (read
  // before the mapping, in the source's own vocabulary).
  std::string key(request.header("X-Idempotency-Key"));
  if (key.size() > 256)
    return refuse(422, "GW-004", "X-Idempotency-Key longer than 256 characters",
                  json::array({{{"field", "X-Idempotency-Key"}, {"message", "at most 256 characters"}}}));
  if (key.empty() && !sc.idempotency_fields.empty() && body.is_object()) {
    std::string derived = "fields";
    for (const auto &f : sc.idempotency_fields) {
      const json *v = find_field(body, f);
      if (!v) {
        derived.clear();
        break;
      }
      derived += '\n' + v->dump();
    }
    key = std::move(derived);
  }

  apply_mapping(sc.mapping, body);
  auto violations = schema_.validate(body);
  TimeNs timestamp_ns = 0;
  if (violations.empty()) {
    if (auto t = body.find("timestamp"); t != body.end()) {
      auto parsed = parse_timestamp(t->get_ref<const std::string &>());
      if (!parsed)
        violations.push_back({"/timestamp", "must be an RFC 3339 timestamp"});
      else
        timestamp_ns = *parsed;
    }
  }
  if (!violations.empty()) {
    schema_errors_->Increment();
    json errors = json::array();
    for (auto &v : violations)
      errors.push_back({{"field", field_of(v.pointer)}, {"message", v.message}});
    return refuse(422, "GW-004", "signal failed validation", errors);
  }
  const TimeNs received_ns = now_ns();
  if (!timestamp_ns)
    timestamp_ns = received_ns;

  std::string scoped_key;
  if (!key.empty()) {
    scoped_key = sc.name + '\n' + key;
    std::string first;
    using Key = IdempotencyStore::Outcome;
    switch (shared_ ? shared_->reserve(scoped_key, body_digest(), corr_id, now_s, first)
                    : idempotency_.reserve(scoped_key, body_digest(), corr_id, now_s, first)) {
    case Key::reserved:
      break;
    case Key::retry: // after an ambiguous 503: same corr_id, same message id
      corr_id = first;
      break;
    case Key::duplicate: {
      source->count(duplicate);
      forget_nonce();
      HttpResponse r;
      r.body = json{{"status", "duplicate"}, {"corr_id", first}}.dump();
      return r;
    }
    case Key::conflict:
      return refuse(
          409, "GW-005", "idempotency key already used with another body",
          json::array({{{"field", "X-Idempotency-Key"}, {"message", "used before with a different body"}}}));
    case Key::in_progress:
      return refuse(409, "GW-005", "a request with this idempotency key is in progress",
                    json::array({{{"field", "X-Idempotency-Key"}, {"message", "in progress"}}}));
    case Key::unavailable:
      return refuse(
          503, "GW-009",
          "the idempotency key cannot be checked (the shared key store did not answer); nothing was "
          "accepted: retry");
    }
  }

  // A signed request without a key that got an ambiguous 503 is known by its signature instead.
  std::string request_key;
  if (!shared_ && scoped_key.empty() && !nonce.empty() && !ambiguous_requests_.empty()) {
    request_key = sc.name + '\n' + std::string(timestamp) + '\n' + std::string(nonce);
    std::string first;
    if (ambiguous_requests_.reserve(request_key, body_digest(), corr_id, now_s, first) ==
        IdempotencyStore::Outcome::retry)
      corr_id = first;
    ambiguous_requests_.release(request_key);
  }

  Signal signal;
  signal.corr_id = corr_id;
  signal.source = sc.name;
  signal.timestamp_ns = timestamp_ns;
  signal.received_ns = received_ns;
  json extra = json::object();
  for (auto &[k, v] : body.items()) {
    if (k == "instrument")
      signal.instrument = v.get<std::string>();
    else if (k == "signal")
      signal.action = signal_action_from_name(v.get_ref<const std::string &>());
    else if (k == "strength")
      signal.strength = v.get<double>();
    else if (k == "price")
      signal.price = v.get<double>();
    else if (k == "timestamp")
      continue;
    else if (!is_reserved_field(k))
      extra[k] = v;
  }
  if (!extra.empty())
    signal.extra_json = extra.dump();
  if (body.size() > size_t(4) + body.contains("metadata") + body.contains("timestamp"))
    note_unknown_fields(body, corr_id);

  // One publish is the whole acceptance: the audit stage records webhook_received (at
  // received_at) and signal_published from this one message, so there is no state in which one
  // exists without the other, and a JetStream gateway waits for one PubAck, not two.
  std::string stamp = format_timestamp(timestamp_ns);
  // The message id names the request, not this attempt: a retry of it is de-duplicated by the bus.
  Message message{Subject::signals_normalized, std::move(signal),
                  request_message_id(sc.name, key, timestamp, nonce, corr_id)};
  auto status = bus_.publish(message, config_.publish_timeout);
  if (status == PublishStatus::unavailable) {
    // The bus did not confirm, which need not mean it did not store (a JetStream leader lost
    // with the PubAck): the key stays, as ambiguous, so a retry goes out under the same corr_id
    // and message id and is accepted at most once.
    log::error("webhook_bus_unavailable", {{"source", sc.name}, {"msg_id", message.msg_id}}, corr_id);
    static constexpr std::string_view ambiguous =
        "the bus did not confirm the signal; it may have been accepted: retry the same request "
        "(same X-Idempotency-Key, or the same signed request), which is accepted at most once";
    if (!scoped_key.empty()) {
      if (shared_)
        shared_->mark_ambiguous(scoped_key, body_digest(), corr_id, now_s);
      else
        idempotency_.mark_ambiguous(scoped_key);
    } else if (!nonce.empty()) {
      replay_.forget(sc.name, nonce);
      if (shared_) // the nonce stays used, and names the corr_id its retry publishes under
        shared_->mark_nonce_ambiguous(sc.name, nonce, body_digest(), corr_id);
      else
        ambiguous_requests_.remember_ambiguous(request_key.empty() ? sc.name + '\n' + std::string(timestamp) +
                                                                         '\n' + std::string(nonce)
                                                                   : request_key,
                                               body_digest(), corr_id, now_s);
      return fail(source, corr_id, 503, "GW-009", ambiguous);
    }
    return refuse(503, "GW-009", ambiguous);
  }
  if (!scoped_key.empty()) {
    if (shared_)
      shared_->commit(scoped_key, body_digest(), corr_id, now_s);
    else
      idempotency_.commit(scoped_key);
  }
  if (status == PublishStatus::duplicate) { // the bus held this request already (a retry)
    source->count(duplicate);
    HttpResponse r;
    r.body = json{{"status", "duplicate"}, {"corr_id", corr_id}}.dump();
    return r;
  }
  signals_published_->Increment();
  source->count(accepted);
  // corr_id is [A-Za-z0-9_-] and stamp RFC 3339: neither needs escaping.
  HttpResponse r;
  r.body.reserve(64 + corr_id.size());
  r.body.append(R"({"status":"accepted","corr_id":")").append(corr_id).append(R"(","timestamp":")");
  r.body.append(stamp).append(R"("})");
  return r;
}

} // namespace th::gateway
