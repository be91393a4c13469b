// POST /webhook/{source} over real HTTP: acceptance, every GW-00x answer, replay, idempotency,
// rate limiting, key rotation, the TradingView mapping, unknown fields, and secrets kept out of logs.
#include "gateway_fixture.hpp"

#include "observability/log.hpp"

#include <set>

namespace th::gateway::testing {
namespace {

const std::string secret = "s3cret-current";

TimeNs now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(GatewayWebhook, AcceptsASignedWebhookAndPublishesOneSignal) {
  GatewayUnderTest g(base_config());
  g.start();
  const TimeNs before = now_ns();
  auto r = g.post_signed("test", valid_body(), secret);
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body.at("status"), "accepted");
  std::string corr_id = body.at("corr_id");
  EXPECT_TRUE(std::regex_match(corr_id, std::regex("^test_[0-9a-f]{23}$"))) << corr_id;
  EXPECT_TRUE(std::regex_match(body.at("timestamp").get<std::string>(),
                               std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)")));

  auto signals = g.signals();
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].corr_id, corr_id);
  EXPECT_EQ(signals[0].instrument, "BTC/USDT");
  EXPECT_EQ(signals[0].action, TH_SIGNAL_BUY);
  EXPECT_DOUBLE_EQ(signals[0].strength, 0.8);
  ASSERT_TRUE(signals[0].price);
  EXPECT_DOUBLE_EQ(*signals[0].price, 42000.5);
  EXPECT_EQ(signals[0].source, "test");
  // One message is the whole acceptance: the audit stage records webhook_received from the
  // signal's received_at (the reception time).
  EXPECT_EQ(g.published().size(), 1u);
  EXPECT_GE(signals[0].received_ns, before);
  EXPECT_LE(signals[0].received_ns, now_ns());
  EXPECT_EQ(g.metric(R"(tradehost_bus_published_total{subject="signals.normalized"})"), 1);
  EXPECT_EQ(g.metric(R"(gateway_webhooks_received_total{source="test",status="success"})"), 1);
}

TEST(GatewayWebhook, CorrIdsSortByCreationAndAreUnique) {
  // The audit index stays append-only only if later ids sort after earlier ones.
  std::string previous = th::gateway::WebhookHandler::mint_corr_id("test");
  std::set<std::string> seen{previous};
  for (int i = 0; i < 10000; ++i) {
    std::string id = th::gateway::WebhookHandler::mint_corr_id("test");
    ASSERT_LT(previous, id);
    ASSERT_TRUE(seen.insert(id).second) << id;
    previous = id;
  }
  // The longest source name still gives a corr_id within the contract's 64 characters.
  EXPECT_EQ(th::gateway::WebhookHandler::mint_corr_id(std::string(40, 's')).size(), 64u);
}

TEST(GatewayWebhook, KeepsABodyTimestampAndMetadata) {
  GatewayUnderTest g(base_config());
  g.start();
  auto body = json{{"instrument", "ETHUSDT"},
                   {"price", 1},
                   {"signal", "sell"},
                   {"strength", 0.1},
                   {"timestamp", "2025-01-15T10:30:01.250Z"},
                   {"metadata", {{"note", "x"}}}};
  auto r = g.post_signed("test", body.dump(), secret);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("timestamp"), "2025-01-15T10:30:01.250Z");
  auto signals = g.signals();
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(format_timestamp(signals[0].timestamp_ns), "2025-01-15T10:30:01.250Z");
  EXPECT_EQ(json::parse(signals[0].extra_json).at("metadata").at("note"), "x");
}

TEST(GatewayWebhook, MissingOrWrongSignatureIs401Gw001) {
  GatewayUnderTest g(base_config());
  g.start();
  auto missing = http_request("POST", g.url("/webhook/test"), valid_body());
  expect_error(missing, 401, "GW-001");
  EXPECT_EQ(error_fields(missing), (std::vector<std::string>{"X-Timestamp", "X-Nonce", "X-Signature"}));
  expect_error(g.post_signed("test", valid_body(), "not-the-secret"), 401, "GW-001");
  // A signature over another body.
  auto headers = sign_webhook(secret, valid_body(0.5), unix_now());
  expect_error(http_request("POST", g.url("/webhook/test"), valid_body(0.9), headers), 401, "GW-001");
  EXPECT_TRUE(g.signals().empty());
  EXPECT_EQ(g.metric(R"(gateway_webhooks_received_total{source="test",status="unauthorized"})"), 3);
}

TEST(GatewayWebhook, ReplaysAreRefusedWithGw002) {
  GatewayUnderTest g(base_config());
  g.start();
  expect_error(g.post_signed("test", valid_body(), secret, {}, unix_now() - 301), 401, "GW-002");
  expect_error(g.post_signed("test", valid_body(), secret, {}, unix_now() + 301), 401, "GW-002");
  auto headers = sign_webhook(secret, valid_body(), unix_now());
  EXPECT_EQ(http_request("POST", g.url("/webhook/test"), valid_body(), headers).status, 200);
  auto again = http_request("POST", g.url("/webhook/test"), valid_body(), headers);
  expect_error(again, 401, "GW-002");
  EXPECT_EQ(error_fields(again), std::vector<std::string>{"X-Nonce"});
  EXPECT_EQ(g.signals().size(), 1u);
  EXPECT_EQ(g.metric("gateway_replay_attacks_blocked_total"), 3);
}

TEST(GatewayWebhook, ReplayWindowIsConfigurable) {
  auto config = base_config();
  config["replay_window_s"] = 10;
  GatewayUnderTest g(config);
  g.start();
  expect_error(g.post_signed("test", valid_body(), secret, {}, unix_now() - 60), 401, "GW-002");
  EXPECT_EQ(g.post_signed("test", valid_body(), secret, {}, unix_now() - 5).status, 200);
}

TEST(GatewayWebhook, UnknownSourceIs404Gw006) {
  GatewayUnderTest g(base_config());
  g.start();
  auto r = g.post_signed("nosuch", valid_body(), secret);
  expect_error(r, 404, "GW-006");
  EXPECT_TRUE(std::regex_match(json::parse(r.body).at("corr_id").get<std::string>(),
                               std::regex("^nosuch_[0-9a-f]{23}$")));
  // A hostile source name is reduced to safe characters in the corr_id.
  auto odd = http_request("POST", g.url("/webhook/%3Cscript%3E..."), valid_body());
  expect_error(odd, 404, "GW-006");
}

TEST(GatewayWebhook, DisabledSourceOrAddressNotAllowedIs403Gw007) {
  auto config = base_config();
  config["sources"]["off"] = {{"secrets", {"x-secret"}}, {"enabled", false}};
  config["sources"]["fenced"] = {{"secrets", {"y-secret"}}, {"allow_ips", {"10.1.2.3"}}};
  config["sources"]["local"] = {{"secrets", {"z-secret"}}, {"allow_ips", {"127.0.0.1"}}};
  GatewayUnderTest g(config);
  g.start();
  expect_error(g.post_signed("off", valid_body(), "x-secret"), 403, "GW-007");
  expect_error(g.post_signed("fenced", valid_body(), "y-secret"), 403, "GW-007");
  EXPECT_EQ(g.post_signed("local", valid_body(), "z-secret").status, 200);
}

TEST(GatewayWebhook, RateLimitIs429Gw003WithRetryAfterAndRecovers) {
  auto config = base_config();
  config["sources"]["test"]["rate_limit"] = {{"rate_per_s", 1}, {"burst", 2}};
  GatewayUnderTest g(config);
  g.start();
  EXPECT_EQ(g.post_signed("test", valid_body(), secret).status, 200);
  EXPECT_EQ(g.post_signed("test", valid_body(), secret).status, 200);
  auto limited = g.post_signed("test", valid_body(), secret);
  expect_error(limited, 429, "GW-003");
  EXPECT_EQ(limited.header("Retry-After"), "1");
  EXPECT_EQ(g.metric(R"(gateway_rate_limit_exceeded_total{client="test"})"), 1);
  g.steady_offset_ms += 1000; // one token back
  EXPECT_EQ(g.post_signed("test", valid_body(), secret).status, 200);
  expect_error(g.post_signed("test", valid_body(), secret), 429, "GW-003");
  EXPECT_EQ(g.signals().size(), 3u);
}

TEST(GatewayWebhook, MalformedJsonIs400AndInvalidSignalIs422ListingEachField) {
  GatewayUnderTest g(base_config());
  g.start();
  auto bad = g.post_signed("test", "{\"instrument\": ", secret);
  expect_error(bad, 400, "GW-004");
  auto invalid =
      g.post_signed("test", json{{"instrument", "btc"}, {"signal", "moon"}, {"strength", 2}}.dump(), secret);
  expect_error(invalid, 422, "GW-004");
  auto fields = error_fields(invalid);
  std::sort(fields.begin(), fields.end());
  EXPECT_EQ(fields, (std::vector<std::string>{"instrument", "price", "signal", "strength"})) << invalid.body;
  auto bad_time = g.post_signed("test",
                                json{{"instrument", "ETHUSDT"},
                                     {"price", 1},
                                     {"signal", "buy"},
                                     {"strength", 1},
                                     {"timestamp", "yesterday at noon"}}
                                    .dump(),
                                secret);
  expect_error(bad_time, 422, "GW-004");
  EXPECT_EQ(error_fields(bad_time), std::vector<std::string>{"timestamp"});
  EXPECT_TRUE(g.signals().empty());
  EXPECT_EQ(g.metric(R"(gateway_validation_errors_total{type="json"})"), 1);
  EXPECT_EQ(g.metric(R"(gateway_validation_errors_total{type="schema"})"), 2);
}

TEST(GatewayWebhook, IdempotencyKeyGivesDuplicateThenConflict) {
  GatewayUnderTest g(base_config());
  g.start();
  HeaderList key{{"X-Idempotency-Key", "order-77"}};
  auto first = g.post_signed("test", valid_body(), secret, key);
  ASSERT_EQ(first.status, 200) << first.body;
  auto again = g.post_signed("test", valid_body(), secret, key);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body).at("status"), "duplicate");
  EXPECT_EQ(json::parse(again.body).at("corr_id"), json::parse(first.body).at("corr_id"));
  expect_error(g.post_signed("test", valid_body(0.1), secret, key), 409, "GW-005");
  EXPECT_EQ(g.published().size(), 1u);
  EXPECT_EQ(g.metric(R"(gateway_webhooks_received_total{source="test",status="duplicate"})"), 1);
}

TEST(GatewayWebhook, BusUnavailableIs503Gw009AndNothingIsRecorded) {
  GatewayUnderTest g(base_config());
  g.start();
  g.bus->down = true;
  HeaderList key{{"X-Idempotency-Key", "retry-me"}};
  auto headers = sign_webhook(secret, valid_body(), unix_now());
  headers.insert(headers.end(), key.begin(), key.end());
  expect_error(http_request("POST", g.url("/webhook/test"), valid_body(), headers), 503, "GW-009");
  EXPECT_TRUE(g.published().empty());
  g.bus->down = false;
  // The same signed request, retried as it was, is accepted: neither nonce nor key was kept.
  auto retry = http_request("POST", g.url("/webhook/test"), valid_body(), headers);
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(json::parse(retry.body).at("status"), "accepted");
  EXPECT_EQ(g.signals().size(), 1u);
}

// Finding 14: a 503 whose signal the bus stored after all. The retry (re-signed, same key) goes
// out under the first corr_id and the same message id, and the bus keeps one signal.
TEST(GatewayWebhook, Ambiguous503WithAKeyIsRetriedUnderTheSameCorrIdAndMessageId) {
  GatewayUnderTest g(base_config());
  g.start();
  g.bus->dedup = true;
  g.bus->lose_ack = true;
  HeaderList key{{"X-Idempotency-Key", "leader-died"}};
  auto first = g.post_signed("test", valid_body(), secret, key);
  expect_error(first, 503, "GW-009");
  auto stored = g.signals();
  ASSERT_EQ(stored.size(), 1u); // the 503 was in fact stored
  EXPECT_EQ(stored[0].corr_id, json::parse(first.body).at("corr_id"));
  g.bus->lose_ack = false;
  auto retry = g.post_signed("test", valid_body(), secret, key); // new nonce and timestamp
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(json::parse(retry.body).at("status"), "duplicate");
  EXPECT_EQ(json::parse(retry.body).at("corr_id"), stored[0].corr_id);
  auto again = g.post_signed("test", valid_body(), secret, key);
  EXPECT_EQ(json::parse(again.body).at("corr_id"), stored[0].corr_id);
  EXPECT_EQ(g.signals().size(), 1u);
  // Another body under the kept key is a conflict, not a second signal.
  expect_error(g.post_signed("test", valid_body(0.1), secret, key), 409, "GW-005");
}

TEST(GatewayWebhook, Ambiguous503OfASignedRequestWithoutKeyIsRetriedOnce) {
  GatewayUnderTest g(base_config());
  g.start();
  g.bus->dedup = true;
  g.bus->lose_ack = true;
  auto headers = sign_webhook(secret, valid_body(), unix_now());
  auto first = http_request("POST", g.url("/webhook/test"), valid_body(), headers);
  expect_error(first, 503, "GW-009");
  g.bus->lose_ack = false;
  auto retry = http_request("POST", g.url("/webhook/test"), valid_body(), headers); // resent as it was
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(json::parse(retry.body).at("status"), "duplicate");
  EXPECT_EQ(json::parse(retry.body).at("corr_id"), json::parse(first.body).at("corr_id"));
  EXPECT_EQ(g.signals().size(), 1u);
  // A request the bus never saw is accepted under the first attempt's corr_id.
  g.bus->down = true;
  auto body2 = valid_body(0.9);
  auto headers2 = sign_webhook(secret, body2, unix_now());
  auto lost = http_request("POST", g.url("/webhook/test"), body2, headers2);
  expect_error(lost, 503, "GW-009");
  g.bus->down = false;
  auto accepted = http_request("POST", g.url("/webhook/test"), body2, headers2);
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(json::parse(accepted.body).at("status"), "accepted");
  EXPECT_EQ(json::parse(accepted.body).at("corr_id"), json::parse(lost.body).at("corr_id"));
  EXPECT_EQ(g.signals().size(), 2u);
}

TEST(GatewayWebhook, KeyRotationAcceptsEveryActiveSecret) {
  auto config = base_config();
  config["sources"]["test"]["secrets"] = {"new-secret", "old-secret"};
  GatewayUnderTest g(config);
  g.start();
  EXPECT_EQ(g.post_signed("test", valid_body(), "new-secret").status, 200);
  EXPECT_EQ(g.post_signed("test", valid_body(), "old-secret").status, 200);
  expect_error(g.post_signed("test", valid_body(), "retired-secret"), 401, "GW-001");
}

TEST(GatewayWebhook, SecretFilesAreRead) {
  TempDir dir;
  std::ofstream(dir.file("secret")) << "from-a-file\n";
  auto config = base_config();
  config["sources"]["test"] = {{"secret_files", {dir.file("secret")}}};
  GatewayUnderTest g(config);
  g.start();
  EXPECT_EQ(g.post_signed("test", valid_body(), "from-a-file").status, 200);
}

json tradingview_source() {
  // As shipped in configs/sources/tradingview.yaml, with the loopback address allowed.
  return json{{"auth", "passphrase"},
              {"passphrase_field", "passphrase"},
              {"passphrases", {"tv-pass-phrase"}},
              {"allow_ips", {"52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7", "127.0.0.1"}},
              {"idempotency_fields", {"time", "ticker"}},
              {"mapping",
               {{"instrument", {{"from", "ticker"}, {"after", ":"}, {"upper", true}}},
                {"signal", {{"from", "strategy.order_action"}, {"lower", true}}},
                {"strength", {{"from", "signal_strength"}, {"default", 1.0}, {"number", true}}},
                {"price", {{"from", "price"}, {"number", true}}}}}};
}

TEST(GatewayWebhook, TradingViewMappingWithPassphraseAndAllowlist) {
  auto config = base_config();
  config["sources"]["tradingview"] = tradingview_source();
  auto fenced = tradingview_source();
  fenced["allow_ips"] = {"52.89.214.238"};
  config["sources"]["tradingview-prod"] = fenced;
  GatewayUnderTest g(config);
  g.start();
  json alert = {{"passphrase", "tv-pass-phrase"}, {"ticker", "BINANCE:ETHUSDT"},
                {"strategy.order_action", "BUY"}, {"price", "3012.5"},
                {"time", "2025-01-15T10:30:00Z"}, {"signal_strength", 0.7},
                {"strategy.order_contracts", 2}};
  auto r = http_request("POST", g.url("/webhook/tradingview"), alert.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto signals = g.signals();
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].instrument, "ETHUSDT");
  EXPECT_EQ(signals[0].action, TH_SIGNAL_BUY);
  EXPECT_DOUBLE_EQ(signals[0].strength, 0.7);
  EXPECT_DOUBLE_EQ(*signals[0].price, 3012.5);
  EXPECT_EQ(signals[0].source, "tradingview");
  EXPECT_EQ(signals[0].extra_json.find("tv-pass-phrase"), std::string::npos);
  EXPECT_EQ(signals[0].extra_json.find("passphrase"), std::string::npos);
  auto extra = json::parse(signals[0].extra_json);
  EXPECT_EQ(extra.at("time"), "2025-01-15T10:30:00Z"); // unmapped fields pass through
  EXPECT_EQ(extra.at("strategy.order_contracts"), 2);
  EXPECT_FALSE(extra.contains("ticker"));

  // The same alert again (same time + ticker): a duplicate, nothing published.
  auto again = http_request("POST", g.url("/webhook/tradingview"), alert.dump());
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body).at("status"), "duplicate");
  EXPECT_EQ(json::parse(again.body).at("corr_id"), json::parse(r.body).at("corr_id"));
  // Strength defaults to 1.0 when the alert has none.
  json minimal = {{"passphrase", "tv-pass-phrase"},
                  {"ticker", "NASDAQ:AAPL"},
                  {"strategy.order_action", "sell"},
                  {"price", 190}};
  ASSERT_EQ(http_request("POST", g.url("/webhook/tradingview"), minimal.dump()).status, 200);
  EXPECT_DOUBLE_EQ(g.signals().back().strength, 1.0);

  alert["passphrase"] = "guess";
  alert["time"] = "2025-01-15T10:31:00Z";
  auto wrong = http_request("POST", g.url("/webhook/tradingview"), alert.dump());
  expect_error(wrong, 401, "GW-001");
  EXPECT_EQ(wrong.body.find("guess"), std::string::npos);
  alert.erase("passphrase");
  expect_error(http_request("POST", g.url("/webhook/tradingview"), alert.dump()), 401, "GW-001");
  alert["passphrase"] = "tv-pass-phrase";
  expect_error(http_request("POST", g.url("/webhook/tradingview-prod"), alert.dump()), 403, "GW-007");
  EXPECT_EQ(g.signals().size(), 2u);
}

TEST(GatewayWebhook, UnknownFieldsPassThroughAreCountedAndLoggedOnce) {
  TempDir dir;
  log::set_file(dir.file("log.jsonl"));
  GatewayUnderTest g(base_config());
  g.start();
  auto body = json::parse(valid_body());
  body["exotic_field"] = {{"a", 1}};
  auto first = g.post_signed("test", body.dump(), secret);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(g.post_signed("test", body.dump(), secret).status, 200);
  auto signals = g.signals();
  ASSERT_EQ(signals.size(), 2u);
  EXPECT_EQ(json::parse(signals[0].extra_json).at("exotic_field").at("a"), 1);
  EXPECT_EQ(g.metric(R"(gateway_unknown_fields_total{field_name="exotic_field"})"), 2);
  std::istringstream lines(read_text(dir.file("log.jsonl")));
  int logged = 0;
  for (std::string line; std::getline(lines, line);) {
    auto entry = json::parse(line);
    if (entry.value("event", "") != "unknown_field")
      continue;
    ++logged;
    EXPECT_EQ(entry.dump().find("exotic_field") != std::string::npos, true);
    EXPECT_EQ(entry.value("corr_id", ""), json::parse(first.body).at("corr_id"));
  }
  EXPECT_EQ(logged, 1);
}

TEST(GatewayWebhook, SecretsNeverAppearInLogs) {
  TempDir dir;
  log::set_file(dir.file("log.jsonl"));
  log::set_level(log::Level::debug);
  auto config = base_config();
  config["sources"]["test"]["secrets"] = {"hmac-secret-AAAA", dev_default_secret};
  config["sources"]["tradingview"] = tradingview_source();
  {
    GatewayUnderTest g(config);
    g.start();
    EXPECT_EQ(g.post_signed("test", valid_body(), "hmac-secret-AAAA").status, 200);
    EXPECT_EQ(g.post_signed("test", valid_body(), "wrong-secret-BBBB").status, 401);
    json alert = {{"passphrase", "tv-pass-phrase"},
                  {"ticker", "X:ETHUSDT"},
                  {"strategy.order_action", "buy"},
                  {"price", 1}};
    EXPECT_EQ(http_request("POST", g.url("/webhook/tradingview"), alert.dump()).status, 200);
    alert["passphrase"] = "wrong-pass-CCCC";
    EXPECT_EQ(http_request("POST", g.url("/webhook/tradingview"), alert.dump()).status, 401);
    alert["passphrase"] = "tv-pass-phrase";
    alert["price"] = "not a price";
    EXPECT_EQ(http_request("POST", g.url("/webhook/tradingview"), alert.dump()).status, 422);
  }
  std::string log_text = read_text(dir.file("log.jsonl"));
  EXPECT_NE(log_text.find("gateway_dev_secret"), std::string::npos)
      << "the dev default secret is warned about";
  EXPECT_NE(log_text.find("webhook_refused"), std::string::npos);
  for (const char *secret_text :
       {"hmac-secret-AAAA", "wrong-secret-BBBB", "tv-pass-phrase", "wrong-pass-CCCC", "test-secret"})
    EXPECT_EQ(log_text.find(secret_text), std::string::npos) << secret_text << " leaked into the log";
}

} // namespace
} // namespace th::gateway::testing
