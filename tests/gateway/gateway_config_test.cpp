// The gateway section: defaults, every field, and errors reported together with their places.
#include "gateway_fixture.hpp"

#include "config/deployment.hpp"
#include "observability/log.hpp"

namespace th::gateway::testing {
namespace {

TEST(GatewayConfig, DefaultsFollowTheContract) {
  auto c = parse_gateway_config(json{{"sources", {{"test", {{"secrets", {"x"}}}}}}}, {});
  EXPECT_EQ(c.server.listen, "127.0.0.1:8001");
  EXPECT_EQ(c.server.max_body_bytes, 1u << 20);
  EXPECT_EQ(c.replay_window_s, 300);
  EXPECT_EQ(c.idempotency_ttl_s, 3600);
  EXPECT_EQ(c.sources.at("test").auth, AuthMode::hmac);
  EXPECT_TRUE(c.sources.at("test").enabled);
}

// Issue 14 finding 9: a secret or passphrase longer than 4096 bytes is refused, and a secret
// file is not read past that.
TEST(GatewayConfig, OverlongSecretsAreRefused) {
  const std::string long_secret(4097, 's');
  try {
    parse_gateway_config(json{{"sources",
                               {{"a", {{"secrets", {long_secret}}}},
                                {"b", {{"auth", "passphrase"}, {"passphrases", {long_secret}}}}}}},
                         {});
    FAIL() << "accepted";
  } catch (const ConfigErrors &e) {
    ASSERT_EQ(e.errors().size(), 2u) << e.what();
    for (const auto &error : e.errors()) {
      EXPECT_NE(error.message.find("longer than 4096 bytes"), std::string::npos) << error.message;
      EXPECT_EQ(error.message.find(long_secret), std::string::npos); // never echoed
    }
  }
  EXPECT_NO_THROW(
      parse_gateway_config(json{{"sources", {{"a", {{"secrets", {std::string(4096, 's')}}}}}}}, {}));
}

TEST(GatewayConfig, ReadsEveryField) {
  auto c = parse_gateway_config(json{{"listen", "0.0.0.0:9000"},
                                     {"threads", 3},
                                     {"max_body_bytes", 2048},
                                     {"max_header_bytes", 4096},
                                     {"max_headers", 10},
                                     {"header_timeout_ms", 100},
                                     {"body_timeout_ms", 200},
                                     {"idle_timeout_ms", 300},
                                     {"replay_window_s", 60},
                                     {"idempotency_ttl_s", 120},
                                     {"max_nonces", 1000},
                                     {"max_idempotency_keys", 500},
                                     {"publish_timeout_ms", 50},
                                     {"sources",
                                      {{"s",
                                        {{"secrets", {"a", "b"}},
                                         {"rate_limit", {{"rate_per_s", 5}, {"burst", 7}}},
                                         {"allow_ips", {"::ffff:1.2.3.4", "10.0.0.1"}}}}}}},
                                {});
  EXPECT_EQ(c.server.threads, 3);
  EXPECT_EQ(c.server.max_headers, 10u);
  EXPECT_EQ(c.server.idle_timeout, std::chrono::milliseconds(300));
  EXPECT_EQ(c.publish_timeout, std::chrono::milliseconds(50));
  EXPECT_EQ(c.max_nonces, 1000u);
  auto &s = c.sources.at("s");
  EXPECT_EQ(s.secrets, (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(s.rate_per_s, 5);
  EXPECT_DOUBLE_EQ(s.burst, 7);
  EXPECT_EQ(s.allow_ips[1], "10.0.0.1");
}

TEST(GatewayConfig, EveryProblemIsReportedWithItsPlace) {
  json section = {{"listen", "nowhere"},
                  {"threads", 0},
                  {"colour", "blue"},
                  {"sources",
                   {{"a", {{"auth", "hmac"}}},
                    {"b", {{"auth", "oauth"}, {"secrets", {"x"}}}},
                    {"c", {{"auth", "passphrase"}}},
                    {"d", {{"secrets", {"x"}}, {"allow_ips", {"not-an-ip"}}, {"mapping", {{"colour", "x"}}}}},
                    {"bad name!", {{"secrets", {"x"}}}}}}};
  std::vector<std::string> pointers;
  try {
    parse_gateway_config(section, [&](std::string_view p) {
      pointers.emplace_back(p);
      return SourceLocation{"deploy.yaml", "gateway" + std::string(p), 7, 3};
    });
    FAIL() << "expected ConfigErrors";
  } catch (const ConfigErrors &e) {
    std::string all;
    for (auto &err : e.errors())
      all += err.to_string() + "\n";
    EXPECT_EQ(e.errors().size(), 9u) << all;
    for (const char *needle :
         {"/listen", "/threads", "/colour", "/sources/a", "/sources/b/auth", "/sources/c",
          "/sources/d/allow_ips/0", "/sources/d/mapping/colour", "/sources/bad name!"})
      EXPECT_NE(std::find(pointers.begin(), pointers.end(), needle), pointers.end()) << needle << "\n" << all;
    EXPECT_NE(all.find("deploy.yaml:7:3"), std::string::npos) << all;
    EXPECT_NE(all.find("'oauth'"), std::string::npos) << all;
  }
}

TEST(GatewayConfig, MissingSecretFileIsNamed) {
  try {
    parse_gateway_config(json{{"sources", {{"s", {{"secret_files", {"/nonexistent/secret"}}}}}}}, {});
    FAIL();
  } catch (const ConfigErrors &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/secret"), std::string::npos) << e.what();
  }
}

TEST(GatewayConfig, DevDefaultsAreRecognised) {
  auto c = parse_gateway_config(
      json{{"sources", {{"test", {{"secrets", {"test-secret"}}}}, {"real", {{"secrets", {"x9"}}}}}}}, {});
  EXPECT_TRUE(c.sources.at("test").uses_dev_default());
  EXPECT_FALSE(c.sources.at("real").uses_dev_default());
}

TEST(GatewayConfig, ShippedTradingViewSnippetLoadsInADeployment) {
  // configs/sources/tradingview.yaml is a gateway.sources entry; wrap it in a minimal deployment.
  std::string snippet = read_text(std::string(TRADEHOST_SOURCE_DIR) + "/configs/sources/tradingview.yaml");
  ASSERT_FALSE(snippet.empty());
  std::string indented;
  std::istringstream lines(snippet);
  for (std::string line; std::getline(lines, line);)
    indented += "    " + line + "\n";
  std::string yaml = "version: 1\nname: t\nplugin_dirs: [\"" + std::string(TRADEHOST_SOURCE_DIR) +
                     "\"]\ngateway:\n  sources:\n" + indented;
  Deployment d;
  try {
    d = load_deployment_text(yaml, "inline.yaml");
  } catch (const ConfigErrors &e) {
    FAIL() << e.what();
  }
  auto c = parse_gateway_config(d);
  auto &tv = c.sources.at("tradingview");
  EXPECT_EQ(tv.auth, AuthMode::passphrase);
  EXPECT_EQ(tv.allow_ips.size(), 4u);
  EXPECT_EQ(tv.idempotency_fields, (std::vector<std::string>{"time", "ticker"}));
  EXPECT_EQ(tv.mapping.size(), 4u);
}

} // namespace
} // namespace th::gateway::testing

namespace th::gateway::testing {
namespace {

// The gateway sections of the shipped deployments parse (the files are loaded as `tradehost run`
// would, with the environment's defaults).
TEST(GatewayConfig, ShippedDeploymentsHaveValidGatewaySections) {
  for (const char *file :
       {"configs/dev.yaml", "configs/jetstream.yaml", "configs/split-roles/trading.yaml"}) {
    std::string path = std::string(TRADEHOST_SOURCE_DIR) + "/" + file;
    SCOPED_TRACE(file);
    ASSERT_TRUE(std::filesystem::exists(path));
    try {
      auto c = parse_gateway_config(load_deployment(path));
      EXPECT_TRUE(c.sources.count("test"));
    } catch (const ConfigErrors &e) {
      ADD_FAILURE() << e.what();
    }
  }
}

} // namespace
} // namespace th::gateway::testing

namespace th::gateway::testing {
namespace {

// The tradingview source's addresses can be overridden through the environment (a
// comma-separated list in one ${VAR}), so it can be tried from 127.0.0.1.
TEST(GatewayConfig, DevConfigAllowIpsComeFromTheEnvironment) {
  std::string path = std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml";
  ::unsetenv("TRADINGVIEW_ALLOW_IPS");
  EXPECT_EQ(parse_gateway_config(load_deployment(path)).sources.at("tradingview").allow_ips,
            (std::vector<std::string>{"52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"}));
  ::setenv("TRADINGVIEW_ALLOW_IPS", "127.0.0.1, ::1", 1);
  EXPECT_EQ(parse_gateway_config(load_deployment(path)).sources.at("tradingview").allow_ips,
            (std::vector<std::string>{"127.0.0.1", "::1"}));
  ::setenv("TRADINGVIEW_ALLOW_IPS", "127.0.0.1,not-an-address", 1);
  EXPECT_THROW(parse_gateway_config(load_deployment(path)), ConfigErrors);
  ::unsetenv("TRADINGVIEW_ALLOW_IPS");
}

// The development-default warning names the variable the deployment reads the secret from.
TEST(GatewayConfig, DevSecretWarningNamesTheVariable) {
  ::unsetenv("TRADINGVIEW_PASSPHRASE");
  ::unsetenv("TRADEHOST_WEBHOOK_SECRET");
  auto config =
      parse_gateway_config(load_deployment(std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml"));
  EXPECT_EQ(config.sources.at("tradingview").secret_variable, "TRADINGVIEW_PASSPHRASE");
  EXPECT_EQ(config.sources.at("test").secret_variable, "TRADEHOST_WEBHOOK_SECRET");
  TempDir dir;
  log::set_file(dir.file("log.jsonl"));
  {
    auto bus = make_embedded_bus();
    Metrics metrics;
    config.signal_schema_file = schema_path();
    Gateway gateway(config, *bus, metrics);
  }
  std::string text = read_text(dir.file("log.jsonl"));
  EXPECT_NE(text.find("set the environment variable TRADINGVIEW_PASSPHRASE"), std::string::npos) << text;
  EXPECT_NE(text.find("set the environment variable TRADEHOST_WEBHOOK_SECRET"), std::string::npos) << text;
  EXPECT_EQ(text.find("dev-passphrase"), std::string::npos) << text;
}

} // namespace
} // namespace th::gateway::testing
