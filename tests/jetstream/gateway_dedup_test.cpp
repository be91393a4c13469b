// Over a real nats-server, gateways that share one JetStream bus share what they know of
// requests (issue 13 finding 14, issue 14 finding 12): the bus message id names the request, and
// nonces and idempotency keys live in the bus's key-value buckets, so a retry or a replay that
// reaches another replica, or a restarted one, is answered as the first gateway would have.
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
    return gateway::http_request(
        "POST", "http://127.0.0.1:" + std::to_string(gateway->port()) + "/webhook/test", body, headers);
  }
  Metrics metrics;
  std::unique_ptr<Bus> bus;
  std::unique_ptr<gateway::Gateway> gateway;
};

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(GatewayJetStreamDedup, ARetryReachingAFreshGatewayIsStoredOnceUnderItsFirstCorrId) {
  NatsServer server;
  RawJetStream raw(server.url());
  const std::string body = R"({"instrument":"AAPL","signal":"buy","strength":0.9,"price":190.5})";
  auto keyed = [&] {
    auto h = gateway::sign_webhook(secret, body, now_s()); // a fresh nonce each time
    h.emplace_back("X-Idempotency-Key", "order-4711");
    return h;
  };
  const auto unkeyed = gateway::sign_webhook(secret, body, now_s()); // resent as it is
  std::string first_corr_id;
  {
    GatewayRun first(server);
    auto a = first.post(body, keyed());
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(nlohmann::json::parse(a.body).at("status"), "accepted");
    first_corr_id = nlohmann::json::parse(a.body).at("corr_id");
    auto b = first.post(body, unkeyed);
    ASSERT_EQ(b.status, 200) << b.body;
  }
  ASSERT_EQ(raw.stored("TRADING"), 2u);
  {
    GatewayRun second(server); // a restarted process: nothing in memory
    auto a = second.post(body, keyed());
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(nlohmann::json::parse(a.body).at("status"), "duplicate");
    EXPECT_EQ(nlohmann::json::parse(a.body).at("corr_id"), first_corr_id);
    auto b = second.post(body, unkeyed); // the same signed request again: a replay
    EXPECT_EQ(b.status, 401) << b.body;
    EXPECT_NE(b.body.find("GW-002"), std::string::npos) << b.body;
  }
  EXPECT_EQ(raw.stored("TRADING"), 2u);
}

TEST(GatewayJetStreamDedup, TwoReplicasShareNoncesAndIdempotencyKeys) {
  NatsServer server;
  RawJetStream raw(server.url());
  GatewayRun left(server), right(server);
  const std::string body = R"({"instrument":"AAPL","signal":"buy","strength":0.9,"price":190.5})";
  const std::string other = R"({"instrument":"AAPL","signal":"sell","strength":0.9,"price":190.5})";

  const auto signed_request = gateway::sign_webhook(secret, body, now_s());
  auto accepted = left.post(body, signed_request);
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  auto replayed = right.post(body, signed_request);
  EXPECT_EQ(replayed.status, 401) << replayed.body;
  EXPECT_NE(replayed.body.find("GW-002"), std::string::npos) << replayed.body;
  EXPECT_NE(replayed.body.find("X-Nonce"), std::string::npos) << replayed.body;

  auto keyed = [&](const std::string &b) {
    auto h = gateway::sign_webhook(secret, b, now_s());
    h.emplace_back("X-Idempotency-Key", "alert-42");
    return h;
  };
  auto first = left.post(body, keyed(body));
  ASSERT_EQ(first.status, 200) << first.body;
  auto conflict = right.post(other, keyed(other));
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_NE(conflict.body.find("GW-005"), std::string::npos) << conflict.body;
  auto again = right.post(body, keyed(body));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(nlohmann::json::parse(again.body).at("status"), "duplicate");
  EXPECT_EQ(nlohmann::json::parse(again.body).at("corr_id"), nlohmann::json::parse(first.body).at("corr_id"));
  EXPECT_EQ(raw.stored("TRADING"), 2u); // the signed request and the keyed one, once each
}

TEST(GatewayJetStreamDedup, WithoutTheSharedStoreNothingIsAccepted) {
  NatsServer server;
  GatewayRun run(server);
  server.stop();
  const std::string body = R"({"instrument":"AAPL","signal":"buy","strength":0.9,"price":190.5})";
  auto r = run.post(body, gateway::sign_webhook(secret, body, now_s()));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("GW-009"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("nothing was accepted"), std::string::npos) << r.body;
}

} // namespace
} // namespace th::test
