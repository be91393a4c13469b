// `tradehost send` against a running gateway: signs with the deployment's secret, prints the
// answer, exits 0 on 2xx and 1 otherwise.
#include "gateway_fixture.hpp"

namespace th::gateway::testing {
namespace {

const std::string tradehost = std::string(TRADEHOST_BINARY_DIR) + "/bin/tradehost";

std::string deployment(const TempDir &dir, const std::string &secret) {
  std::string path = dir.file("deploy.yaml");
  std::ofstream(path) << "version: 1\nname: send-test\nplugin_dirs: [\"" << TRADEHOST_SOURCE_DIR << "\"]\n"
                      << "gateway:\n  sources:\n    test:\n      secrets: [\"" << secret << "\"]\n"
                      << "    tv:\n      auth: passphrase\n      passphrases: [pp-send]\n"
                      << "      mapping: {instrument: {from: ticker, after: \":\"}}\n";
  return path;
}

TEST(GatewaySend, SignsPostsAndPrintsTheAnswer) {
  auto config = base_config();
  config["sources"]["tv"] = {{"auth", "passphrase"},
                             {"passphrases", {"pp-send"}},
                             {"mapping", {{"instrument", {{"from", "ticker"}, {"after", ":"}}}}}};
  GatewayUnderTest g(config);
  g.start();
  TempDir dir;
  std::string file = deployment(dir, "s3cret-current");
  std::ofstream(dir.file("body.json")) << valid_body();
  int status = -1;
  auto out = run_shell(tradehost + " send -c " + file + " --source test --url " + g.url("/webhook/test") +
                           " @" + dir.file("body.json") + " --idempotency-key send-1",
                       &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out.rfind("200\n", 0), 0u) << out;
  EXPECT_NE(out.find("\"accepted\""), std::string::npos) << out;
  out = run_shell(tradehost + " send -c " + file + " --source test --url " + g.url("/webhook/test") + " '" +
                      valid_body() + "' --idempotency-key send-1",
                  &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("\"duplicate\""), std::string::npos) << out;
  out = run_shell(tradehost + " send -c " + file + " --source tv --url " + g.url("/webhook/tv") +
                      " '{\"ticker\":\"X:ETHUSDT\",\"signal\":\"hold\",\"price\":2,\"strength\":0.5}'",
                  &status);
  EXPECT_EQ(status, 0) << out;
  ASSERT_EQ(g.signals().size(), 2u);
  EXPECT_EQ(g.signals().back().instrument, "ETHUSDT");

  // A refused request exits 1 and still prints the answer.
  out = run_shell(tradehost + " send -c " + file + " --source test --url " + g.url("/webhook/test") +
                      " '{\"instrument\":\"x\"}' 2>&1",
                  &status);
  EXPECT_EQ(status, 1) << out;
  EXPECT_EQ(out.rfind("422\n", 0), 0u) << out;
  // A source the deployment lacks is a usage/config error.
  out = run_shell(tradehost + " send -c " + file + " --source nope '{}' 2>&1", &status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("nope"), std::string::npos) << out;
  // The secret is not printed.
  EXPECT_EQ(out.find("s3cret-current"), std::string::npos);
}

TEST(GatewaySend, WrongSecretExitsOne) {
  GatewayUnderTest g(base_config());
  g.start();
  TempDir dir;
  int status = -1;
  auto out = run_shell(tradehost + " send -c " + deployment(dir, "not-the-secret") + " --source test --url " +
                           g.url("/webhook/test") + " '" + valid_body() + "'",
                       &status);
  EXPECT_EQ(status, 1) << out;
  EXPECT_EQ(out.rfind("401\n", 0), 0u) << out;
  EXPECT_TRUE(g.signals().empty());
}

} // namespace
} // namespace th::gateway::testing
