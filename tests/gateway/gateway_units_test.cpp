// The gateway's bounded stores and limiter on their own: nonce expiry and cap, idempotency TTL
// and cap, token bucket refill and Retry-After, the signature, the mapping.
#include "gateway/client_address.hpp"
#include "gateway/crypto.hpp"
#include "gateway/idempotency_store.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/replay_guard.hpp"
#include "gateway/source_mapping.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace th::gateway {
namespace {

TEST(GatewayReplayGuard, WindowIsSymmetricAndNoncesExpireWithTheirTimestamp) {
  ReplayGuard guard(10, 1000);
  EXPECT_EQ(guard.check("s", "a", 89, 100), ReplayGuard::Verdict::stale_timestamp);
  EXPECT_EQ(guard.check("s", "a", 111, 100), ReplayGuard::Verdict::stale_timestamp);
  EXPECT_EQ(guard.check("s", "a", 100, 100), ReplayGuard::Verdict::ok);
  EXPECT_EQ(guard.check("s", "a", 105, 104), ReplayGuard::Verdict::reused_nonce);
  EXPECT_EQ(guard.check("other", "a", 100, 100), ReplayGuard::Verdict::ok); // scoped by source
  EXPECT_EQ(guard.size(), 2u);
  // At 111 the first "a" (timestamp 100) could no longer pass the window: it is dropped.
  EXPECT_EQ(guard.check("s", "b", 111, 111), ReplayGuard::Verdict::ok);
  EXPECT_EQ(guard.check("s", "a", 111, 111), ReplayGuard::Verdict::ok);
  guard.forget("s", "a");
  EXPECT_EQ(guard.check("s", "a", 111, 111), ReplayGuard::Verdict::ok);
}

TEST(GatewayReplayGuard, MemoryIsCapped) {
  ReplayGuard guard(300, 64);
  for (int i = 0; i < 10'000; ++i)
    ASSERT_EQ(guard.check("s", "n" + std::to_string(i), 1000 + i % 50, 1000), ReplayGuard::Verdict::ok);
  EXPECT_LE(guard.size(), 64u);
  EXPECT_GE(guard.evicted(), 10'000u - 64u);
  // The newest nonces are still remembered.
  EXPECT_EQ(guard.check("s", "n9999", 1000, 1000), ReplayGuard::Verdict::reused_nonce);
}

TEST(GatewayIdempotencyStore, ExpiresAfterTheTtlAndStaysBounded) {
  IdempotencyStore store(60, 100);
  auto digest = sha256("body");
  std::string first;
  EXPECT_EQ(store.reserve("k", digest, "c1", 1000, first), IdempotencyStore::Outcome::reserved);
  EXPECT_EQ(store.reserve("k", digest, "c2", 1001, first), IdempotencyStore::Outcome::in_progress);
  store.commit("k");
  EXPECT_EQ(store.reserve("k", digest, "c2", 1059, first), IdempotencyStore::Outcome::duplicate);
  EXPECT_EQ(first, "c1");
  EXPECT_EQ(store.reserve("k", sha256("other"), "c3", 1059, first), IdempotencyStore::Outcome::conflict);
  EXPECT_EQ(store.reserve("k", digest, "c4", 1060, first), IdempotencyStore::Outcome::reserved); // expired
  store.release("k");
  EXPECT_EQ(store.size(), 0u);
  for (int i = 0; i < 1000; ++i)
    store.reserve("k" + std::to_string(i), digest, "c", 2000, first);
  EXPECT_LE(store.size(), 101u);
}

TEST(GatewayTokenBucket, RefillsAtTheRateAndSaysWhenToRetry) {
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  TokenBucket bucket(0.5, 1, t0); // one token every 2 s
  int retry = 0;
  EXPECT_TRUE(bucket.try_take(t0, retry));
  EXPECT_FALSE(bucket.try_take(t0, retry));
  EXPECT_EQ(retry, 2);
  EXPECT_FALSE(bucket.try_take(t0 + std::chrono::milliseconds(1500), retry));
  EXPECT_EQ(retry, 1);
  EXPECT_TRUE(bucket.try_take(t0 + std::chrono::seconds(2), retry));
}

TEST(GatewayCrypto, SignatureIsHexHmacSha256OfTimestampNonceBody) {
  // openssl: printf '%s' 'what.do ya want.for nothing?' | openssl dgst -sha256 -hmac Jefe -hex
  EXPECT_EQ(webhook_signature("Jefe", "what", "do ya want", "for nothing?"),
            "5329d3f53ae033df301f4586ec2835ed8462af3d014ea9c6b5e2e7cf3b97bdba");
  EXPECT_NE(webhook_signature("Jefe", "what", "do ya want", "for nothing!"),
            "5329d3f53ae033df301f4586ec2835ed8462af3d014ea9c6b5e2e7cf3b97bdba");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_EQ(random_hex(8).size(), 16u);
  EXPECT_NE(random_hex(8), random_hex(8));
}

// Finding 10: a length mismatch returned at once, so the time told the token's length. Digests
// of equal length are compared now: a mismatched length costs about as much as a matching one.
// (A ratio of two timings on the same machine, each the fastest of several runs.)
// Equal inputs only: a wrong length is refused like a wrong byte (that it takes as long is shown
// by bench_crypto, a benchmark, not here: a test does not time the machine).
TEST(GatewayCrypto, ConstantTimeEqualAcceptsOnlyTheSameBytes) {
  const std::string token(4096, 't');
  std::string last_differs = token;
  last_differs.back() = 'u';
  EXPECT_TRUE(constant_time_equal(token, std::string(4096, 't')));
  EXPECT_FALSE(constant_time_equal(token, last_differs));
  EXPECT_FALSE(constant_time_equal(token, "t"));
  EXPECT_FALSE(constant_time_equal(token, token + "t")); // a prefix of the other
  EXPECT_FALSE(constant_time_equal(token, ""));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3))); // bytes after a NUL
}

TEST(GatewayTrustedProxies, AddressesAndRangesAndTheNearestUntrustedHop) {
  EXPECT_TRUE(TrustedProxies::valid_entry("10.0.0.0/8"));
  EXPECT_TRUE(TrustedProxies::valid_entry("fd00::/8"));
  EXPECT_FALSE(TrustedProxies::valid_entry("10.0.0.0/33"));
  EXPECT_FALSE(TrustedProxies::valid_entry("proxy.local"));
  TrustedProxies proxies({"10.0.0.0/8", "192.0.2.1", "fd00::/8"}, ForwardedHeader::x_forwarded_for);
  EXPECT_TRUE(proxies.trusted("10.200.3.4"));
  EXPECT_TRUE(proxies.trusted("::ffff:10.1.1.1"));
  EXPECT_TRUE(proxies.trusted("fd12::1"));
  EXPECT_FALSE(proxies.trusted("192.0.2.2"));
  EXPECT_FALSE(proxies.trusted("11.0.0.1"));
  std::vector<HttpHeader> headers{{"X-Forwarded-For", "1.1.1.1, 2.2.2.2"}, {"x-forwarded-for", "10.0.0.9"}};
  HttpRequest r;
  r.headers = headers;
  r.client_address = "192.0.2.1";
  EXPECT_EQ(proxies.client_of(r), "2.2.2.2"); // both headers form one list; 10.0.0.9 is a proxy
  r.client_address = "8.8.8.8";
  EXPECT_EQ(proxies.client_of(r), "8.8.8.8"); // not from a proxy: the header is ignored
  TrustedProxies forwarded({"192.0.2.1"}, ForwardedHeader::forwarded);
  std::vector<HttpHeader> f{{"Forwarded", "for=\"[2001:db8::17]:4711\";proto=https, for=192.0.2.1"}};
  r.headers = f;
  r.client_address = "192.0.2.1";
  EXPECT_EQ(forwarded.client_of(r), "2001:db8::17");
}

TEST(GatewaySourceMapping, LiteralDottedKeysNestedPathsAndTransforms) {
  std::vector<FieldMapping> mapping(3);
  mapping[0] = {"instrument", "ticker", ":", std::nullopt, true, false, false};
  mapping[1] = {"signal", "strategy.order_action", "", std::nullopt, false, true, false};
  mapping[2] = {"strength", "s", "", nlohmann::json(1.0), false, false, true};
  auto nested = nlohmann::json::parse(R"({"ticker":"binance:ethusdt","strategy":{"order_action":"SELL"}})");
  apply_mapping(mapping, nested);
  EXPECT_EQ(nested, nlohmann::json::parse(R"({"instrument":"ETHUSDT","signal":"sell","strength":1.0})"));
  auto literal = nlohmann::json::parse(R"({"ticker":"X","strategy.order_action":"buy","s":"0.25","keep":1})");
  apply_mapping(mapping, literal);
  EXPECT_EQ(literal, nlohmann::json::parse(R"({"instrument":"X","signal":"buy","strength":0.25,"keep":1})"));
}

} // namespace
} // namespace th::gateway
