// HTTP/1.1 framing as RFC 9112 wants it, over raw loopback sockets: a request whose length is
// ambiguous, one without Host, an unknown transfer coding, and garbage after a valid request are
// each answered (400 or 501) and the connection is closed; nothing is accepted from them.
#include "gateway_fixture.hpp"

namespace th::gateway::testing {
namespace {

const std::string secret = "s3cret-current";

// Signature headers for body, as raw header lines.
std::string signature_lines(const std::string &body) {
  std::string out;
  for (auto &[k, v] : sign_webhook(secret, body, unix_now()))
    out += k + ": " + v + "\r\n";
  return out;
}

// Sends bytes on a new connection; expects one answer with this status, then the close.
void expect_refused_and_closed(GatewayUnderTest &g, const std::string &bytes, unsigned status) {
  RawConnection c(g.gateway->port());
  c.send(bytes);
  auto response = c.read();
  EXPECT_EQ(response.result_int(), status) << bytes << "\n" << response.body();
  EXPECT_TRUE(json::parse(response.body()).at("detail").is_string());
  EXPECT_TRUE(c.closed_within(std::chrono::seconds(5))) << bytes;
}

TEST(GatewayFraming, ContentLengthWithTransferEncodingIs400AndClosed) {
  GatewayUnderTest g(base_config());
  g.start();
  std::string body = valid_body();
  // Either order: a proxy framing by the other header would see a different request.
  expect_refused_and_closed(g,
                            "POST /webhook/test HTTP/1.1\r\nHost: x\r\n" + signature_lines(body) +
                                "Content-Length: " + std::to_string(body.size()) +
                                "\r\nTransfer-Encoding: chunked\r\n\r\n" + body,
                            400);
  expect_refused_and_closed(
      g,
      "POST /webhook/test HTTP/1.1\r\nHost: x\r\n" + signature_lines(body) +
          "Transfer-Encoding: chunked\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
      400);
  EXPECT_TRUE(g.signals().empty());
}

TEST(GatewayFraming, TwoDifferentContentLengthsAre400AndClosed) {
  GatewayUnderTest g(base_config());
  g.start();
  std::string body = valid_body();
  expect_refused_and_closed(g,
                            "POST /webhook/test HTTP/1.1\r\nHost: x\r\n" + signature_lines(body) +
                                "Content-Length: " + std::to_string(body.size()) +
                                "\r\nContent-Length: " + std::to_string(body.size() - 5) + "\r\n\r\n" + body,
                            400);
  EXPECT_TRUE(g.signals().empty());
}

TEST(GatewayFraming, InvalidChunkSizeIs400AndClosed) {
  GatewayUnderTest g(base_config());
  g.start();
  std::string body = valid_body();
  expect_refused_and_closed(g,
                            "POST /webhook/test HTTP/1.1\r\nHost: x\r\n" + signature_lines(body) +
                                "Transfer-Encoding: chunked\r\n\r\nzz\r\n" + body + "\r\n0\r\n\r\n",
                            400);
  EXPECT_TRUE(g.signals().empty());
}

TEST(GatewayFraming, GarbagePipelinedAfterAValidRequestIs400AndClosed) {
  GatewayUnderTest g(base_config());
  g.start();
  RawConnection c(g.gateway->port());
  c.send(raw_signed_request("test", valid_body(), secret) + "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(c.read().result_int(), 200u); // the valid one is answered first, in order
  auto second = c.read();
  EXPECT_EQ(second.result_int(), 400u) << second.body();
  EXPECT_TRUE(c.closed_within(std::chrono::seconds(5)));
  EXPECT_EQ(g.signals().size(), 1u);
}

TEST(GatewayFraming, Http11WithoutHostOrWithTwoHostsIs400) {
  GatewayUnderTest g(base_config());
  g.start();
  expect_refused_and_closed(g, "GET /healthz HTTP/1.1\r\n\r\n", 400);
  expect_refused_and_closed(g, "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  // HTTP/1.0 has no Host requirement.
  RawConnection c(g.gateway->port());
  c.send("GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(c.read().result_int(), 200u);
}

TEST(GatewayFraming, UnknownTransferCodingIs501AndNotFramedByContentLength) {
  GatewayUnderTest g(base_config());
  g.start();
  std::string body = valid_body();
  // Before: "xchunked" was ignored and the body framed by Content-Length (accepted, 200).
  expect_refused_and_closed(
      g,
      "POST /webhook/test HTTP/1.1\r\nHost: x\r\n" + signature_lines(body) +
          "Transfer-Encoding: xchunked\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
      501);
  expect_refused_and_closed(g,
                            "POST /webhook/test HTTP/1.1\r\nHost: x\r\n" + signature_lines(body) +
                                "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                            501);
  EXPECT_TRUE(g.signals().empty());
}

} // namespace
} // namespace th::gateway::testing
