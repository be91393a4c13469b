// gateway/shared_requests.hpp over JetStream key-value buckets of a real nats-server: two
// "replicas" (two buses, each with its own connection) agree on nonces and idempotency keys.
#include "jetstream_test_support.hpp"

#include "gateway/crypto.hpp"
#include "gateway/shared_requests.hpp"

#include <gtest/gtest.h>

namespace th::test {
namespace {

using Key = gateway::SharedRequests::Key;
using Nonce = gateway::SharedRequests::Nonce;

struct Replica {
  explicit Replica(const NatsServer &server) : bus(make_jetstream_bus(options_for(server))) {
    bus->start();
    requests =
        std::make_unique<gateway::SharedRequests>(bus->key_value("nonces", std::chrono::seconds(600)),
                                                  bus->key_value("idempotency", std::chrono::seconds(600)),
                                                  /*stale_after_s=*/30);
  }
  ~Replica() { bus->stop(); }
  std::unique_ptr<Bus> bus;
  std::unique_ptr<gateway::SharedRequests> requests;
};

const auto body = gateway::sha256("the body");
const auto other_body = gateway::sha256("another body");

TEST(SharedRequests, ANonceIsUsedOnceAcrossReplicas) {
  NatsServer server;
  Replica a(server), b(server);
  std::string first;
  EXPECT_EQ(a.requests->use_nonce("test", "n-1", body, first), Nonce::fresh);
  EXPECT_EQ(b.requests->use_nonce("test", "n-1", body, first), Nonce::reused);
  EXPECT_EQ(b.requests->use_nonce("other-source", "n-1", body, first), Nonce::fresh);
  a.requests->forget_nonce("test", "n-1"); // refused: the client may send it again
  EXPECT_EQ(b.requests->use_nonce("test", "n-1", body, first), Nonce::fresh);
}

TEST(SharedRequests, AnAmbiguousSignedRequestIsTakenOverOnceWithItsCorrId) {
  NatsServer server;
  Replica a(server), b(server);
  std::string first;
  ASSERT_EQ(a.requests->use_nonce("test", "n-2", body, first), Nonce::fresh);
  a.requests->mark_nonce_ambiguous("test", "n-2", body, "test_0001");
  EXPECT_EQ(b.requests->use_nonce("test", "n-2", other_body, first), Nonce::reused); // not the same request
  ASSERT_EQ(b.requests->use_nonce("test", "n-2", body, first), Nonce::retry);
  EXPECT_EQ(first, "test_0001");
  EXPECT_EQ(a.requests->use_nonce("test", "n-2", body, first), Nonce::reused); // taken over once
}

TEST(SharedRequests, AKeyIsReservedCommittedAndAnsweredEverywhere) {
  NatsServer server;
  Replica a(server), b(server);
  std::string first;
  ASSERT_EQ(a.requests->reserve("test\nk-1", body, "test_0002", 100, first), Key::reserved);
  EXPECT_EQ(b.requests->reserve("test\nk-1", body, "test_0003", 101, first), Key::in_progress);
  a.requests->commit("test\nk-1", body, "test_0002", 101);
  ASSERT_EQ(b.requests->reserve("test\nk-1", body, "test_0003", 102, first), Key::duplicate);
  EXPECT_EQ(first, "test_0002");
  EXPECT_EQ(b.requests->reserve("test\nk-1", other_body, "test_0003", 102, first), Key::conflict);
}

TEST(SharedRequests, AnAmbiguousOrAbandonedReservationIsRetriedUnderItsFirstCorrId) {
  NatsServer server;
  Replica a(server), b(server);
  std::string first;
  ASSERT_EQ(a.requests->reserve("test\nk-2", body, "test_0004", 100, first), Key::reserved);
  a.requests->mark_ambiguous("test\nk-2", body, "test_0004", 100);
  ASSERT_EQ(b.requests->reserve("test\nk-2", body, "test_0005", 101, first), Key::retry);
  EXPECT_EQ(first, "test_0004");
  EXPECT_EQ(a.requests->reserve("test\nk-2", body, "test_0006", 102, first), Key::in_progress);

  // A process that reserved and died: after stale_after_s its reservation is taken over.
  ASSERT_EQ(a.requests->reserve("test\nk-3", body, "test_0007", 100, first), Key::reserved);
  EXPECT_EQ(b.requests->reserve("test\nk-3", body, "test_0008", 129, first), Key::in_progress);
  ASSERT_EQ(b.requests->reserve("test\nk-3", body, "test_0008", 131, first), Key::retry);
  EXPECT_EQ(first, "test_0007");
}

TEST(SharedRequests, AnUnreachableStoreAnswersUnavailable) {
  NatsServer server;
  Replica a(server);
  server.stop();
  std::string first;
  EXPECT_EQ(a.requests->use_nonce("test", "n-3", body, first), Nonce::unavailable);
  EXPECT_EQ(a.requests->reserve("test\nk-4", body, "test_0009", 100, first), Key::unavailable);
}

} // namespace
} // namespace th::test
