// Finding 14 over a real nats-server: the gateway's bus message id names the request, so a retry
// that reaches a gateway which no longer remembers the first attempt (restarted, or another
// instance behind a load balancer) is de-duplicated by JetStream: the stream keeps one signal.
#include "jetstream_test_support.hpp"

#include "gateway/gateway.hpp"
#include "gateway/webhook_client.hpp"

#include <gtest/gtest.h>

namespace th::test {
namespace {

const std::string secret = "dedup-secret";

nlohmann::json gateway_section() {
  return {{"listen", "127.0.0.1:0"},
          {"signal_schema", std::string(TRADEHOST_SOURCE_DIR) + "/schemas/signal.schema.json"},
          {"sources", {{"test", {{"secrets", {secret}}}}}}};
}

// One gateway process's lifetime: a JetStream bus and a gateway with empty memories.
struct GatewayRun {
  explicit GatewayRun(const NatsServer &server) : bus(make_jetstream_bus(options_for(server))) {
    bus->start();
    gateway = std::make_unique<gateway::Gateway>(gateway::parse_gateway_config(gateway_section(), {}), *bus,
                                                 metrics);
    gateway->start();
  }
  ~GatewayRun() {
    gateway->stop();
    bus->stop();
  }
  gateway::ClientResponse post(const std::string &body, const gateway::HeaderList &headers) {
    return gateway::http_request("POST", "http://127.0.0.1:" + std::to_string(gateway->port()) + "/webhook/test",
                                 body, headers);
  }
  Metrics metrics;
  std::unique_ptr<Bus> bus;
  std::unique_ptr<gateway::Gateway> gateway;
};

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(GatewayJetStreamDedup, ARetryReachingAFreshGatewayIsStoredOnce) {
  NatsServer server;
  RawJetStream raw(server.url());
  const std::string body = R"({"instrument":"AAPL","signal":"buy","strength":0.9,"price":190.5})";
  auto keyed = [&] {
    auto h = gateway::sign_webhook(secret, body, now_s()); // a fresh nonce each time
    h.emplace_back("X-Idempotency-Key", "order-4711");
    return h;
  };
  const auto unkeyed = gateway::sign_webhook(secret, body, now_s()); // resent as it is
  {
    GatewayRun first(server);
    auto a = first.post(body, keyed());
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(nlohmann::json::parse(a.body).at("status"), "accepted");
    auto b = first.post(body, unkeyed);
    ASSERT_EQ(b.status, 200) << b.body;
  }
  ASSERT_EQ(raw.stored("TRADING"), 2u);
  {
    GatewayRun second(server); // knows neither the key nor the nonce
    auto a = second.post(body, keyed());
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(nlohmann::json::parse(a.body).at("status"), "duplicate");
    auto b = second.post(body, unkeyed);
    ASSERT_EQ(b.status, 200) << b.body;
    EXPECT_EQ(nlohmann::json::parse(b.body).at("status"), "duplicate");
  }
  EXPECT_EQ(raw.stored("TRADING"), 2u);
}

} // namespace
} // namespace th::test
