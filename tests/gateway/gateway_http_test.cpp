// The HTTP layer under the gateway: body limits (Content-Length and chunked), chunked bodies,
// keep-alive, pipelining, stalled and idle clients, header limits, routing, health, metrics, TLS.
#include "gateway_fixture.hpp"

namespace th::gateway::testing {
namespace {

const std::string secret = "s3cret-current";

std::string chunked(const std::string &body, size_t piece) {
  std::string out;
  for (size_t i = 0; i < body.size(); i += piece) {
    auto part = body.substr(i, piece);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    out += size + part + "\r\n";
  }
  return out + "0\r\n\r\n";
}

TEST(GatewayHttp, BodyOverTheLimitByContentLengthIs413BeforeTheBodyIsSent) {
  auto config = base_config();
  config["max_body_bytes"] = 1024;
  GatewayUnderTest g(config);
  g.start();
  RawConnection c(g.gateway->port());
  c.send("POST /webhook/test HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"); // and no body
  auto response = c.read();
  EXPECT_EQ(response.result_int(), 413u);
  auto body = json::parse(response.body());
  EXPECT_EQ(body.at("detail").get<std::string>().rfind("GW-008: ", 0), 0u);
  EXPECT_TRUE(std::regex_match(body.at("corr_id").get<std::string>(), std::regex("^test_[0-9a-f]{23}$")));
  EXPECT_TRUE(c.closed_within(std::chrono::seconds(5)));
  EXPECT_EQ(g.metric(R"(gateway_webhooks_received_total{source="test",status="too_large"})"), 1);
}

TEST(GatewayHttp, ChunkedBodyOverTheLimitIs413) {
  auto config = base_config();
  config["max_body_bytes"] = 1024;
  GatewayUnderTest g(config);
  g.start();
  RawConnection c(g.gateway->port());
  c.send("POST /webhook/test HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
         chunked(std::string(4096, 'a'), 500));
  auto response = c.read();
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_EQ(json::parse(response.body()).at("detail").get<std::string>().rfind("GW-008: ", 0), 0u);
  EXPECT_TRUE(g.signals().empty());
}

TEST(GatewayHttp, ChunkedBodyIsAccepted) {
  GatewayUnderTest g(base_config());
  g.start();
  std::string body = valid_body();
  std::string request = "POST /webhook/test HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n";
  for (auto &[k, v] : sign_webhook(secret, body, unix_now()))
    request += k + ": " + v + "\r\n";
  RawConnection c(g.gateway->port());
  c.send(request + "\r\n" + chunked(body, 7));
  auto response = c.read();
  EXPECT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_EQ(g.signals().size(), 1u);
}

TEST(GatewayHttp, ExpectContinueIsHonoured) {
  GatewayUnderTest g(base_config());
  g.start();
  std::string body = valid_body();
  std::string request = "POST /webhook/test HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n";
  for (auto &[k, v] : sign_webhook(secret, body, unix_now()))
    request += k + ": " + v + "\r\n";
  RawConnection c(g.gateway->port());
  c.send(request + "\r\n");
  EXPECT_EQ(c.read().result_int(), 100u);
  c.send(body);
  EXPECT_EQ(c.read().result_int(), 200u);
}

TEST(GatewayHttp, KeepAliveServesManyRequestsOnOneConnection) {
  GatewayUnderTest g(base_config());
  g.start();
  RawConnection c(g.gateway->port());
  std::set<std::string> corr_ids;
  for (int i = 0; i < 200; ++i) {
    c.send(raw_signed_request("test", valid_body(), secret));
    auto response = c.read();
    ASSERT_EQ(response.result_int(), 200u) << response.body();
    EXPECT_TRUE(response.keep_alive());
    corr_ids.insert(json::parse(response.body()).at("corr_id").get<std::string>());
  }
  EXPECT_EQ(corr_ids.size(), 200u);
  EXPECT_EQ(g.signals().size(), 200u);
}

TEST(GatewayHttp, PipelinedRequestsAreAnsweredInOrder) {
  GatewayUnderTest g(base_config());
  g.start();
  RawConnection c(g.gateway->port());
  std::string batch;
  for (int i = 0; i < 10; ++i)
    batch += raw_signed_request("test", valid_body(i / 10.0), secret);
  batch += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  c.send(batch); // all eleven requests in one write
  std::vector<std::string> corr_ids;
  for (int i = 0; i < 10; ++i) {
    auto response = c.read();
    ASSERT_EQ(response.result_int(), 200u) << response.body();
    corr_ids.push_back(json::parse(response.body()).at("corr_id"));
  }
  auto health = c.read();
  EXPECT_EQ(json::parse(health.body()).at("ok"), true);
  auto signals = g.signals();
  ASSERT_EQ(signals.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(signals[i].corr_id, corr_ids[i]); // answers and publications in request order
    EXPECT_DOUBLE_EQ(signals[i].strength, i / 10.0);
  }
}

TEST(GatewayHttp, AClientThatStallsInItsHeadersIsClosed) {
  GatewayUnderTest g(base_config()); // header_timeout_ms: 300
  g.start();
  RawConnection c(g.gateway->port());
  c.send("POST /webhook/test HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1"); // ... and nothing more
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_within(std::chrono::seconds(10)));
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(250));
  // The server still serves others.
  EXPECT_EQ(http_request("GET", g.url("/healthz"), "").status, 200);
}

TEST(GatewayHttp, AnIdleKeepAliveConnectionIsClosed) {
  auto config = base_config();
  config["idle_timeout_ms"] = 200;
  GatewayUnderTest g(config);
  g.start();
  RawConnection c(g.gateway->port());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read().result_int(), 200u);
  EXPECT_TRUE(c.closed_within(std::chrono::seconds(10)));
}

TEST(GatewayHttp, HeaderCountAndSizeLimitsAre431) {
  auto config = base_config();
  config["max_headers"] = 20;
  config["max_header_bytes"] = 2048;
  GatewayUnderTest g(config);
  g.start();
  std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 30; ++i)
    many += "X-H" + std::to_string(i) + ": v\r\n";
  RawConnection a(g.gateway->port());
  a.send(many + "\r\n");
  EXPECT_EQ(a.read().result_int(), 431u);
  RawConnection b(g.gateway->port());
  b.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'b') + "\r\n\r\n");
  EXPECT_EQ(b.read().result_int(), 431u);
}

TEST(GatewayHttp, HostRoutesHealthReadinessAndMethodChecks) {
  HealthReport report;
  report.nats = "connected";
  report.consumer = {"healthy", "mcp-signals", "signals.normalized", 3, 1};
  std::atomic<bool> healthy{true};
  GatewayUnderTest g(base_config(), [&] {
    auto r = report;
    r.ok = healthy;
    r.consumer.status = healthy ? "healthy" : "degraded";
    return r;
  });
  g.gateway->add_route("GET", "/positions", [](const HttpRequest &r) {
    HttpResponse out;
    out.body = json{{"client", r.client_address}, {"target", r.target}}.dump();
    out.headers.emplace_back("X-Test", "yes");
    return out;
  });
  g.start();
  auto positions = http_request("GET", g.url("/positions?x=1"), "");
  EXPECT_EQ(positions.status, 200);
  EXPECT_EQ(json::parse(positions.body).at("client"), "127.0.0.1");
  EXPECT_EQ(json::parse(positions.body).at("target"), "/positions?x=1");
  EXPECT_EQ(positions.header("X-Test"), "yes");
  EXPECT_EQ(http_request("POST", g.url("/positions"), "{}").status, 405);
  EXPECT_EQ(http_request("GET", g.url("/nothing"), "").status, 404);

  auto health = http_request("GET", g.url("/healthz"), "");
  ASSERT_EQ(health.status, 200);
  auto h = json::parse(health.body);
  EXPECT_EQ(h.at("ok"), true);
  EXPECT_GE(h.at("uptime_s").get<int64_t>(), 0);
  EXPECT_EQ(h.at("version"), "test");
  EXPECT_EQ(h.at("nats"), "connected");
  EXPECT_EQ(h.at("processor_status"), "active");
  EXPECT_EQ(h.at("consumer"), (json{{"status", "healthy"},
                                    {"durable_name", "mcp-signals"},
                                    {"filter_subject", "signals.normalized"},
                                    {"num_pending", 3},
                                    {"num_waiting", 1}}));
  EXPECT_EQ(http_request("GET", g.url("/readyz"), "").status, 200);
  healthy = false;
  EXPECT_EQ(http_request("GET", g.url("/healthz"), "").status, 503);
  EXPECT_EQ(json::parse(http_request("GET", g.url("/healthz"), "").body).at("consumer").at("status"),
            "degraded");
  EXPECT_EQ(http_request("GET", g.url("/readyz"), "").status, 503);
  healthy = true;
  g.gateway->set_ready(false);
  EXPECT_EQ(http_request("GET", g.url("/readyz"), "").status, 503);
}

TEST(GatewayHttp, DefaultHealthComesFromTheBus) {
  GatewayUnderTest g(base_config());
  g.start();
  auto h = json::parse(http_request("GET", g.url("/healthz"), "").body);
  EXPECT_EQ(h.at("nats"), "embedded");
  EXPECT_EQ(h.at("ok"), true);
  EXPECT_EQ(h.at("consumer").at("durable_name"), "test-collector");
}

TEST(GatewayHttp, MetricsHaveEveryContractNameAndPassPromtool) {
  GatewayUnderTest g(base_config());
  g.start();
  ASSERT_EQ(g.post_signed("test", valid_body(), secret).status, 200);
  auto body = json::parse(valid_body());
  body["surprise"] = true;
  ASSERT_EQ(g.post_signed("test", body.dump(), secret).status, 200);
  ASSERT_EQ(g.post_signed("test", "nope", secret).status, 400);
  auto metrics = http_request("GET", g.url("/metrics"), "");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("Content-Type").rfind("text/plain", 0), 0u);
  // The gateway's families (the agent_ and audit_ ones appear once their stages record something).
  for (const char *name : {"gateway_webhooks_received_total", "gateway_validation_errors_total",
                           "gateway_request_duration_seconds", "gateway_rate_limit_exceeded_total",
                           "gateway_replay_attacks_blocked_total", "gateway_unknown_fields_total"})
    EXPECT_NE(metrics.body.find(std::string("# TYPE ") + name), std::string::npos) << name;
  EXPECT_NE(metrics.body.find(R"(gateway_request_duration_seconds_count{endpoint="/webhook/"} 3)"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(R"(gateway_unknown_fields_total{field_name="surprise"} 1)"), std::string::npos);
  TempDir dir;
  std::ofstream(dir.file("metrics.txt")) << metrics.body;
  int status = -1;
  auto out = run_shell("promtool check metrics < " + dir.file("metrics.txt") + " 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
}

TEST(GatewayHttp, TlsListenerServesTheSameRoutes) {
  TempDir dir;
  int status = -1;
  auto out = run_shell("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " +
                           dir.file("key.pem") + " -out " + dir.file("cert.pem") + " 2>&1",
                       &status);
  ASSERT_EQ(status, 0) << out;
  auto config = base_config();
  config["tls"] = {
      {"listen", "127.0.0.1:0"}, {"cert_file", dir.file("cert.pem")}, {"key_file", dir.file("key.pem")}};
  GatewayUnderTest g(config);
  g.start();
  ASSERT_NE(g.gateway->tls_port(), 0);
  std::string body = valid_body();
  std::string headers;
  for (auto &[k, v] : sign_webhook(secret, body, unix_now()))
    headers += " -H '" + k + ": " + v + "'";
  std::ofstream(dir.file("body.json")) << body;
  auto response = run_shell("curl -s --cacert " + dir.file("cert.pem") +
                                " -w '\\n%{http_code}' -H 'Content-Type: application/json'" + headers +
                                " --data-binary @" + dir.file("body.json") + " https://localhost:" +
                                std::to_string(g.gateway->tls_port()) + "/webhook/test",
                            &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(response.find("\"accepted\""), std::string::npos) << response;
  EXPECT_EQ(response.substr(response.size() - 3), "200") << response;
  EXPECT_EQ(g.signals().size(), 1u);
}

} // namespace
} // namespace th::gateway::testing
