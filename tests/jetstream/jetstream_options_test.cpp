// bus.jetstream parsing: defaults, every field, and errors that name file, path and line.
#include "bus/jetstream_bus.hpp"
#include "config/deployment.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace th {
namespace {

// A deployment whose bus.jetstream section is `section`, with each key of it "on" its own line.
Deployment deployment_with(const nlohmann::json &section) {
  Deployment deployment;
  deployment.file = "configs/jetstream.yaml";
  deployment.document = {{"version", 1}, {"bus", {{"kind", "jetstream"}, {"jetstream", section}}}};
  deployment.locations["/bus/jetstream"] = {deployment.file, "bus.jetstream", 4, 3};
  int line = 5;
  for (auto it = section.begin(); section.is_object() && it != section.end(); ++it)
    deployment.locations["/bus/jetstream/" + it.key()] = {deployment.file, "", line++, 5};
  return deployment;
}

// What the host passes: the deployment asked for the section's pointers.
Locator in_bus_jetstream(const Deployment &deployment) {
  return [&deployment](std::string_view pointer) {
    return deployment.locate("/bus/jetstream" + std::string(pointer));
  };
}

JetStreamOptions parse(const nlohmann::json &section) {
  const Deployment deployment = deployment_with(section);
  return parse_jetstream_options(section, in_bus_jetstream(deployment));
}

std::string errors_of(const nlohmann::json &section) {
  try {
    parse(section);
  } catch (const ConfigErrors &errors) {
    std::string text;
    for (const auto &error : errors.errors())
      text += error.to_string() + "\n";
    return text;
  }
  return "";
}

TEST(JetStreamOptions, DefaultsFollowTheDocumentation) {
  ::unsetenv("NATS_URL");
  JetStreamOptions options = parse(nlohmann::json::object());
  EXPECT_EQ(options.servers, std::vector<std::string>{"nats://127.0.0.1:4222"});
  EXPECT_EQ(options.stream, "TRADING");
  EXPECT_EQ(options.duplicate_window_s, 120);
  EXPECT_EQ(options.max_in_flight, 1024);
  EXPECT_EQ(options.consumers.ack_wait_s, 30);
  EXPECT_EQ(options.consumers.max_deliver, 10);
  EXPECT_EQ(options.consumers.fetch_batch, 256);
  EXPECT_EQ(options.consumers.fetch_wait_ms, 250);
  EXPECT_FALSE(options.consumers.defer_handler_publishes);
  EXPECT_FALSE(options.tls.enabled());

  ::setenv("NATS_URL", "nats://10.0.0.7:4333", 1);
  EXPECT_EQ(parse(nullptr).servers, std::vector<std::string>{"nats://10.0.0.7:4333"});
  ::unsetenv("NATS_URL");
}

TEST(JetStreamOptions, ReadsEveryField) {
  auto options =
      parse({{"servers", {"nats://a:4222", "tls://b:4222"}},
             {"stream", "ORDERS"},
             {"replicas", 3},
             {"duplicate_window_s", 300},
             {"max_in_flight", 64},
             {"publish_timeout_ms", 750},
             {"connect_timeout_ms", 900},
             {"reconnect_wait_ms", 100},
             {"reconnect_buffer_bytes", 1048576},
             {"connection_name", "exec-1"},
             {"user", "trader"},
             {"password", "from-env"},
             {"tls", {{"ca_file", "/etc/ca.pem"}, {"cert_file", "/etc/c.pem"}, {"key_file", "/etc/k.pem"}}},
             {"consumers",
              {{"ack_wait_s", 5},
               {"max_deliver", 3},
               {"fetch_batch", 8},
               {"fetch_wait_ms", 50},
               {"defer_handler_publishes", true}}}});
  EXPECT_EQ(options.servers, (std::vector<std::string>{"nats://a:4222", "tls://b:4222"}));
  EXPECT_EQ(options.stream, "ORDERS");
  EXPECT_EQ(options.replicas, 3);
  EXPECT_EQ(options.duplicate_window_s, 300);
  EXPECT_EQ(options.max_in_flight, 64);
  EXPECT_EQ(options.publish_timeout_ms, 750);
  EXPECT_EQ(options.connect_timeout_ms, 900);
  EXPECT_EQ(options.reconnect_wait_ms, 100);
  EXPECT_EQ(options.reconnect_buffer_bytes, 1048576);
  EXPECT_EQ(options.connection_name, "exec-1");
  EXPECT_EQ(options.user, "trader");
  EXPECT_EQ(options.password, "from-env");
  EXPECT_TRUE(options.tls.enabled());
  EXPECT_EQ(options.tls.key_file, "/etc/k.pem");
  EXPECT_EQ(options.consumers.ack_wait_s, 5);
  EXPECT_EQ(options.consumers.max_deliver, 3);
  EXPECT_EQ(options.consumers.fetch_batch, 8);
  EXPECT_EQ(options.consumers.fetch_wait_ms, 50);
  EXPECT_TRUE(options.consumers.defer_handler_publishes);
  EXPECT_EQ(parse({{"servers", "nats://one:4222"}}).servers, std::vector<std::string>{"nats://one:4222"});
}

TEST(JetStreamOptions, ReportsEveryProblemWithItsLocation) {
  std::string text = errors_of({{"servers", {"http://x"}},
                                {"max_in_flight", 0},
                                {"stream", "A.B"},
                                {"duplicate_window_s", "2m"},
                                {"creds_file", "/x.creds"},
                                {"user", "u"},
                                {"colour", "blue"},
                                {"consumers", {{"ack_wait", 5}, {"defer_handler_publishes", "yes"}}}});
  EXPECT_NE(text.find("server URL 'http://x' must start with nats:// or tls://"), std::string::npos) << text;
  EXPECT_NE(text.find("max_in_flight must be between 1 and"), std::string::npos) << text;
  EXPECT_NE(text.find("stream must be a non-empty name"), std::string::npos) << text;
  EXPECT_NE(text.find("duplicate_window_s must be an integer"), std::string::npos) << text;
  EXPECT_NE(text.find("use only one of creds_file, nkey_file and user/password"), std::string::npos) << text;
  EXPECT_NE(text.find("unknown key 'colour'"), std::string::npos) << text;
  EXPECT_NE(text.find("unknown key 'ack_wait'"), std::string::npos) << text;
  EXPECT_NE(text.find("defer_handler_publishes must be true or false"), std::string::npos) << text;
  EXPECT_NE(text.find("configs/jetstream.yaml:"), std::string::npos) << text;
  EXPECT_NE(text.find("bus.jetstream.max_in_flight"), std::string::npos) << text;
  EXPECT_NE(errors_of({{"nkey_file", "/seed"}}).find("nkey_file needs nkey"), std::string::npos);
  EXPECT_NE(errors_of({{"tls", {{"cert_file", "/c.pem"}}}}).find("cert_file and key_file go together"),
            std::string::npos);
  EXPECT_NE(errors_of(nlohmann::json::array()).find("bus.jetstream must be an object"), std::string::npos);
}

// The bus knows no deployment: it names each problem by its pointer within the section, and
// whoever holds the settings places it (here a plain callback; a deployment's locator in the host).
TEST(JetStreamOptions, AsksTheLocatorForPointersWithinTheSection) {
  std::vector<std::string> asked;
  const Locator locate = [&](std::string_view pointer) {
    asked.emplace_back(pointer);
    return SourceLocation{"settings.json", "jetstream" + std::string(pointer), 7, 1};
  };
  try {
    parse_jetstream_options({{"stream", ""}, {"tls", {{"colour", 1}}}}, locate);
    FAIL() << "an empty stream name and an unknown tls key were accepted";
  } catch (const ConfigErrors &e) {
    ASSERT_EQ(e.errors().size(), 2u);
    EXPECT_EQ(e.errors()[0].where.file, "settings.json");
    EXPECT_EQ(e.errors()[0].where.line, 7);
    EXPECT_EQ(e.errors()[1].message, "unknown key 'colour' in bus/jetstream/tls");
  }
  EXPECT_EQ(asked, (std::vector<std::string>{"/stream", "/tls/colour"}));
  asked.clear();
  EXPECT_THROW(parse_jetstream_options(nlohmann::json::array(), locate), ConfigErrors);
  EXPECT_EQ(asked, std::vector<std::string>{""}); // the section itself
}

TEST(JetStreamFilterSubject, OneFilterPerSubscriptionKeepsPublishOrder) {
  EXPECT_EQ(jetstream_filter_subject({Subject::executions_fill}), "executions.fill");
  EXPECT_EQ(jetstream_filter_subject({Subject::executions_fill, Subject::executions_reconcile}),
            "executions.>");
  EXPECT_EQ(jetstream_filter_subject({Subject::executions_fill, Subject::executions_fill}),
            "executions.fill");
  EXPECT_EQ(jetstream_filter_subject({Subject::audit_event, Subject::executions_fill}), "");
}

// The shipped examples load, validate and give the bus what the documentation says.
TEST(JetStreamOptions, ShippedDeploymentsParse) {
  ::setenv("TRADEHOST_SCHEMA_DIR", TRADEHOST_SOURCE_DIR "/schemas", 1);
  ::unsetenv("NATS_URL");
  for (const char *file : {"/configs/jetstream.yaml", "/configs/split-roles/trading.yaml"}) {
    SCOPED_TRACE(file);
    Deployment deployment;
    try {
      deployment = load_deployment(std::string(TRADEHOST_SOURCE_DIR) + file);
    } catch (const std::exception &e) {
      FAIL() << e.what();
    }
    EXPECT_EQ(deployment.bus.kind, "jetstream");
    JetStreamOptions options =
        parse_jetstream_options(deployment.bus.jetstream, in_bus_jetstream(deployment));
    EXPECT_EQ(options.servers, std::vector<std::string>{"nats://127.0.0.1:4222"});
    EXPECT_EQ(options.stream, "TRADING");
    EXPECT_EQ(options.consumers.ack_wait_s, 30);
    EXPECT_TRUE(options.creds_file.empty());
    EXPECT_TRUE(options.consumers.defer_handler_publishes);
  }
}

} // namespace
} // namespace th
