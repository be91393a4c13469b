// The webhook path tried as an attacker would (issue 14): deep nesting, numbers beyond a double,
// field names that break /metrics, non-finite numbers through a mapping, a nested passphrase,
// forwarded addresses, and requests refused before their body is read.
#include "gateway_fixture.hpp"

namespace th::gateway::testing {
namespace {

const std::string secret = "s3cret-current";

std::string nested(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// valid_body() with one more field whose value is the given JSON text.
std::string body_with(const std::string &field, const std::string &value_text) {
  std::string body = valid_body();
  body.pop_back();
  return body + ",\"" + field + "\":" + value_text + "}";
}

TEST(GatewayHostile, DeeplyNestedFieldIs400NamingItAndTheHostSurvives) {
  GatewayUnderTest g(base_config());
  g.start();
  // Before: 100,000 levels crashed the host (extra.dump() recursed on the io thread).
  for (const char *field : {"x", "metadata"}) {
    auto r = g.post_signed("test", body_with(field, nested(100'000)), secret);
    expect_error(r, 400, "GW-004");
    EXPECT_EQ(error_fields(r), std::vector<std::string>{field}) << r.body;
  }
  // The default bound is 64 levels for the whole body: the field may nest 63.
  EXPECT_EQ(g.post_signed("test", body_with("x", nested(63)), secret).status, 200);
  expect_error(g.post_signed("test", body_with("x", nested(64)), secret), 400, "GW-004");
  expect_error(g.post_signed("test", nested(100'000), secret), 400, "GW-004");
  EXPECT_EQ(g.post_signed("test", valid_body(), secret).status, 200);
  EXPECT_EQ(g.signals().size(), 2u);
  EXPECT_EQ(g.metric(R"(gateway_webhooks_received_total{source="test",status="invalid_json"})"), 4);
}

TEST(GatewayHostile, NestingBoundIsConfigurable) {
  auto config = base_config();
  config["max_json_depth"] = 4;
  GatewayUnderTest g(config);
  g.start();
  EXPECT_EQ(g.post_signed("test", body_with("metadata", R"({"a":{"b":[1]}})"), secret).status, 200);
  auto r = g.post_signed("test", body_with("metadata", R"({"a":{"b":[[1]]}})"), secret);
  expect_error(r, 400, "GW-004");
  EXPECT_EQ(error_fields(r), std::vector<std::string>{"metadata"});
}

TEST(GatewayHostile, NumberBeyondADoubleIs400CountedAndTheNonceIsGivenBack) {
  GatewayUnderTest g(base_config());
  g.start();
  for (const char *price : {"1e400", "-1e400"}) {
    std::string body = json{{"instrument", "BTC/USDT"}, {"signal", "buy"}, {"strength", 0.5}}.dump();
    body.pop_back();
    body += std::string(",\"price\":") + price + "}";
    auto headers = sign_webhook(secret, body, unix_now());
    // Before: 500 "internal error", uncounted, and the retry was refused as a replay.
    auto r = http_request("POST", g.url("/webhook/test"), body, headers);
    expect_error(r, 400, "GW-004");
    auto again = http_request("POST", g.url("/webhook/test"), body, headers); // same nonce
    expect_error(again, 400, "GW-004");
  }
  EXPECT_EQ(g.metric(R"(gateway_webhooks_received_total{source="test",status="invalid_json"})"), 4);
  EXPECT_EQ(g.metric(R"(gateway_validation_errors_total{type="json"})"), 4);
  EXPECT_TRUE(g.signals().empty());
}

TEST(GatewayHostile, UnknownFieldNamesKeepMetricsParseableByPromtool) {
  GatewayUnderTest g(base_config());
  g.start();
  // 63 ASCII bytes then a 2-byte character: a 64-byte cut splits it. Then names with every
  // character a label value must escape.
  std::string cut = std::string(63, 'a') + "\xc3\xa9" + "tail";
  for (const std::string &name : {cut, std::string("quote\"back\\slash"), std::string("new\nline"),
                                  std::string("tab\there"), std::string("\xe2\x82\xac euro")}) {
    json body = json::parse(valid_body());
    body[name] = 1;
    ASSERT_EQ(g.post_signed("test", body.dump(), secret).status, 200) << name;
  }
  TempDir dir;
  auto scrape = http_request("GET", g.url("/metrics"), "");
  ASSERT_EQ(scrape.status, 200);
  std::ofstream(dir.file("metrics.txt")) << scrape.body;
  int status = -1;
  auto out = run_shell("promtool check metrics < " + dir.file("metrics.txt") + " 2>&1", &status);
  EXPECT_EQ(out.find("error while"), std::string::npos) << out;
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(scrape.body.find("field_name=\"" + std::string(63, 'a') + "\""), std::string::npos);
}

json tradingview_source() {
  return json{{"auth", "passphrase"},
              {"passphrase_field", "passphrase"},
              {"passphrases", {"tv-pass-phrase"}},
              {"mapping",
               {{"instrument", {{"from", "ticker"}, {"after", ":"}, {"upper", true}}},
                {"signal", {{"from", "strategy.order_action"}, {"lower", true}}},
                {"strength", {{"from", "signal_strength"}, {"default", 1.0}, {"number", true}}},
                {"price", {{"from", "price"}, {"number", true}}}}}};
}

json alert() {
  return json{{"passphrase", "tv-pass-phrase"},
              {"ticker", "BINANCE:ETHUSDT"},
              {"strategy.order_action", "buy"},
              {"price", "3012.5"},
              {"signal_strength", "0.7"}};
}

TEST(GatewayHostile, NonFiniteNumbersThroughTheMappingAre422) {
  auto config = base_config();
  config["sources"]["tradingview"] = tradingview_source();
  GatewayUnderTest g(config);
  g.start();
  ASSERT_EQ(http_request("POST", g.url("/webhook/tradingview"), alert().dump()).status, 200);
  // Before: accepted (200) and audited as null.
  for (auto [field, text] : {std::pair{"price", "NaN"},
                             {"price", "inf"},
                             {"price", "-Infinity"},
                             {"signal_strength", "nan"},
                             {"price", "1e400"}}) {
    auto a = alert();
    a[field] = text;
    auto r = http_request("POST", g.url("/webhook/tradingview"), a.dump());
    expect_error(r, 422, "GW-004");
    EXPECT_EQ(error_fields(r), std::vector<std::string>{field == std::string("price") ? "price" : "strength"})
        << field << "=" << text << ": " << r.body;
  }
  EXPECT_EQ(g.signals().size(), 1u);
}

TEST(GatewayHostile, NestedPassphraseIsRemovedWhereItWasFound) {
  auto config = base_config();
  auto source = tradingview_source();
  source["passphrase_field"] = "auth.key";
  config["sources"]["tradingview"] = source;
  GatewayUnderTest g(config);
  g.start();
  auto a = alert();
  a.erase("passphrase");
  a["auth"] = {{"key", "tv-pass-phrase"}, {"user", "desk-1"}};
  auto r = http_request("POST", g.url("/webhook/tradingview"), a.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  a["auth"] = {{"key", "tv-pass-phrase"}};
  a["ticker"] = "BINANCE:BTCUSDT";
  ASSERT_EQ(http_request("POST", g.url("/webhook/tradingview"), a.dump()).status, 200);
  auto signals = g.signals();
  ASSERT_EQ(signals.size(), 2u);
  // Before: the nested passphrase stayed in extra_json (audited twice, passed to agents).
  for (auto &s : signals)
    EXPECT_EQ(s.extra_json.find("tv-pass-phrase"), std::string::npos) << s.extra_json;
  EXPECT_EQ(json::parse(signals[0].extra_json).at("auth"), json({{"user", "desk-1"}}));
  EXPECT_TRUE(signals[1].extra_json.empty() || !json::parse(signals[1].extra_json).contains("auth"))
      << signals[1].extra_json;
  // A wrong nested passphrase is refused.
  a["auth"]["key"] = "guess";
  expect_error(http_request("POST", g.url("/webhook/tradingview"), a.dump()), 401, "GW-001");
}

// The passphrase is read by a SAX scan of the raw text and checked before a document is built;
// a number beyond a double, which the scan cannot pass either, is 400 whatever the passphrase
// (before: 500 from the uncaught out_of_range of the document parse).
TEST(GatewayHostile, PassphraseSourcesRefuseNumbersBeyondADoubleWith400) {
  auto config = base_config();
  config["sources"]["tradingview"] = tradingview_source();
  GatewayUnderTest g(config);
  g.start();
  for (const char *pass : {"guess", "tv-pass-phrase"}) {
    std::string body = std::string(R"({"passphrase":")") + pass +
                       R"(","ticker":"X:Y","strategy.order_action":"buy","price":1e400})";
    expect_error(http_request("POST", g.url("/webhook/tradingview"), body), 400, "GW-004");
  }
  // A wrong passphrase in a valid body is 401 before anything else is looked at.
  auto a = alert();
  a["passphrase"] = "guess";
  a["price"] = "not a number";
  expect_error(http_request("POST", g.url("/webhook/tradingview"), a.dump()), 401, "GW-001");
  EXPECT_EQ(g.metric(R"(gateway_webhooks_received_total{source="tradingview",status="invalid_json"})"), 2);
}

TEST(GatewayHostile, ForwardedAddressesCountOnlyFromTrustedProxies) {
  auto config = base_config();
  auto source = tradingview_source();
  source["allow_ips"] = {"52.89.214.238"};
  config["sources"]["tradingview"] = source;
  std::string url;
  auto post = [&](const HeaderList &headers) {
    return http_request("POST", url + "/webhook/tradingview", alert().dump(), headers);
  };
  {
    GatewayUnderTest g(config); // no trusted proxies: the header is the client's word, ignored
    g.start();
    url = g.url("");
    auto r = post({{"X-Forwarded-For", "52.89.214.238"}});
    expect_error(r, 403, "GW-007");
    EXPECT_NE(r.body.find("127.0.0.1"), std::string::npos) << r.body; // the refused address is named
  }
  config["trusted_proxies"] = {"127.0.0.0/8"};
  {
    GatewayUnderTest g(config);
    g.start();
    url = g.url("");
    EXPECT_EQ(post({{"X-Forwarded-For", "52.89.214.238"}}).status, 200);
    auto other = post({{"X-Forwarded-For", "198.51.100.7"}});
    expect_error(other, 403, "GW-007");
    EXPECT_NE(other.body.find("198.51.100.7"), std::string::npos) << other.body;
    // A client's own X-Forwarded-For is kept on the left; the proxy appends the real peer.
    auto spoofed = post({{"X-Forwarded-For", "52.89.214.238, 198.51.100.7"}});
    expect_error(spoofed, 403, "GW-007");
    EXPECT_NE(spoofed.body.find("198.51.100.7"), std::string::npos) << spoofed.body;
    // Proxies in the chain are skipped.
    EXPECT_EQ(post({{"X-Forwarded-For", "52.89.214.238, 127.0.0.2"}}).status, 200);
    // Forwarded is not read unless configured.
    expect_error(post({{"Forwarded", "for=52.89.214.238"}}), 403, "GW-007");
  }
  config["forwarded_header"] = "forwarded";
  {
    GatewayUnderTest g(config);
    g.start();
    url = g.url("");
    EXPECT_EQ(post({{"Forwarded", "for=52.89.214.238;proto=https"}}).status, 200);
    EXPECT_EQ(post({{"Forwarded", "for=\"52.89.214.238:4711\""}}).status, 200);
    expect_error(post({{"X-Forwarded-For", "52.89.214.238"}}), 403, "GW-007");
  }
}

TEST(GatewayHostile, UnknownSourcesAndMissingSignaturesAreRefusedBeforeTheBody) {
  GatewayUnderTest g(base_config());
  g.start();
  // Each declares a 1 MiB body and sends none of it: the answer must not wait for the body.
  for (auto [head, status] :
       {std::pair{std::string("POST /webhook/nope HTTP/1.1\r\nHost: x\r\n"), 404u},
        {std::string("POST /webhook/test HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1\r\n"), 401u}}) {
    RawConnection c(g.gateway->port());
    c.set_read_timeout(std::chrono::seconds(10)); // the body timeout is 30 s
    c.send(head + "Content-Length: 1048576\r\n\r\n");
    auto response = c.read();
    EXPECT_EQ(response.result_int(), status) << response.body();
    EXPECT_TRUE(c.closed_within(std::chrono::seconds(5)));
  }
  EXPECT_EQ(g.metric(R"(gateway_webhooks_received_total{source="_unknown",status="unknown_source"})"), 1);
  EXPECT_EQ(g.metric(R"(gateway_webhooks_received_total{source="test",status="unauthorized"})"), 1);
}

TEST(GatewayHostile, BodyBytesInFlightAreCapped) {
  auto config = base_config();
  config["max_body_bytes"] = 4096;
  config["max_inflight_body_bytes"] = 5000;
  config["header_timeout_ms"] = 5000;
  GatewayUnderTest g(config);
  g.start();
  // Signature headers present (checked once the body is read), so the body is read.
  std::string head = "POST /webhook/test HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1\r\nX-Nonce: n\r\n"
                     "X-Signature: 00\r\nContent-Length: 3000\r\n\r\n";
  RawConnection first(g.gateway->port());
  // 100 Continue comes once the first body's 3000 bytes are counted as in flight.
  first.send(head.substr(0, head.size() - 2) + "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(first.read().result_int(), 100u);
  // A second body of 3000 would pass 5000 in flight: 503 before it is read, and closed.
  RawConnection second(g.gateway->port());
  second.set_read_timeout(std::chrono::seconds(10));
  second.send(head);
  auto busy = second.read();
  EXPECT_EQ(busy.result_int(), 503u) << busy.body();
  EXPECT_EQ(busy["Retry-After"], "1");
  EXPECT_TRUE(second.closed_within(std::chrono::seconds(5)));
  first.send(std::string(3000, ' '));
  EXPECT_EQ(first.read().result_int(), 401u); // read in full, then refused for its signature
  // Released: a body fits again.
  RawConnection third(g.gateway->port());
  third.send(head + std::string(3000, ' '));
  EXPECT_EQ(third.read().result_int(), 401u);
}

} // namespace
} // namespace th::gateway::testing
