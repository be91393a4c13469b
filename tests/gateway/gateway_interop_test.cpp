// Interoperability with independent tools: the signature as the contract's sample makes it
// (`openssl dgst -sha256 -hmac`), posted with curl; and the gateway's own client.
#include "gateway_fixture.hpp"

namespace th::gateway::testing {
namespace {

TEST(GatewayInterop, OpensslSignatureAndCurlPost) {
  GatewayUnderTest g(base_config());
  g.start();
  TempDir dir;
  std::ofstream(dir.file("body.json")) << valid_body();
  std::ofstream(dir.file("send.sh")) << R"(set -eu
BODY=$(cat "$1")
TS=$(date +%s)
NONCE=$(openssl rand -hex 16)
SIG=$(printf '%s' "$TS.$NONCE.$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex | sed 's/^.*= //')
curl -s -w '\n%{http_code}' -H "Content-Type: application/json" -H "X-Timestamp: $TS" \
  -H "X-Nonce: $NONCE" -H "X-Signature: $SIG" --data-binary "$BODY" "$2"
)";
  int status = -1;
  auto out = run_shell("SECRET=s3cret-current sh " + dir.file("send.sh") + " " + dir.file("body.json") + " " +
                           g.url("/webhook/test"),
                       &status);
  ASSERT_EQ(status, 0) << out;
  auto newline = out.rfind('\n');
  EXPECT_EQ(out.substr(newline + 1), "200") << out;
  EXPECT_EQ(json::parse(out.substr(0, newline)).at("status"), "accepted");
  ASSERT_EQ(g.signals().size(), 1u);
  // Our signature function agrees with openssl's.
  auto cli =
      run_shell("printf '%s' '1700000000.abc.{}' | openssl dgst -sha256 -hmac key -hex | sed 's/^.*= //'");
  EXPECT_EQ(cli.substr(0, 64), webhook_signature("key", "1700000000", "abc", "{}"));
  // A wrong secret through the same path is refused.
  out = run_shell("SECRET=wrong sh " + dir.file("send.sh") + " " + dir.file("body.json") + " " +
                  g.url("/webhook/test"));
  EXPECT_EQ(out.substr(out.rfind('\n') + 1), "401");
}

TEST(GatewayInterop, SendWebhookSignsOrAddsThePassphrase) {
  auto config = base_config();
  config["sources"]["tv"] = {{"auth", "passphrase"},
                             {"passphrases", {"pp-1"}},
                             {"mapping", {{"instrument", {{"from", "ticker"}, {"after", ":"}}}}}};
  GatewayUnderTest g(config);
  g.start();
  auto parsed = parse_gateway_config(config, {});
  auto r = send_webhook(parsed.sources.at("test"), g.url("/webhook/test"), valid_body(), "k-1");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      json::parse(send_webhook(parsed.sources.at("test"), g.url("/webhook/test"), valid_body(), "k-1").body)
          .at("status"),
      "duplicate");
  auto tv = send_webhook(parsed.sources.at("tv"), g.url("/webhook/tv"),
                         R"({"ticker":"BINANCE:SOLUSDT","signal":"close","price":1,"strength":0})");
  EXPECT_EQ(tv.status, 200) << tv.body;
  EXPECT_EQ(g.signals().back().instrument, "SOLUSDT");
}

} // namespace
} // namespace th::gateway::testing
