// Issue 13, "fail closed" at start (findings 1, 2, 3, 10): real `tradehost` processes with a
// fault plugin per kind (fault_plugin.c) whose create(), start() or check_order() fail on demand.
// A risk check, executor or audit sink that cannot be created or started stops `run`, `replay`
// and `validate --deep` with exit 2, naming the instance, the deployment file and line, and the
// reason; nothing is served. A risk check that errors rejects (risk_error). An agent whose
// strategy plugin is missing waits for it and starts when it arrives.
#include "../e2e/host_process.hpp"
#include "../support/nats_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>
#include <sstream>

using nlohmann::json;
using th::test::ChildProcess;
using th::test::eventually;
using th::test::HostOptions;
using th::test::HostProcess;

namespace {

std::string read_file(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The deployment text with the top-level section `name` (its key line up to the next top-level
// key) replaced by `block`, which starts with "name:".
std::string replace_section(std::string text, const std::string &name, const std::string &block) {
  size_t start = text.find("\n" + name + ":\n");
  if (start == std::string::npos)
    throw std::runtime_error("no section " + name);
  ++start;
  size_t end = start + name.size() + 2;
  while (end < text.size()) {
    size_t next = text.find('\n', end);
    if (next == std::string::npos) {
      end = text.size();
      break;
    }
    end = next + 1;
    if (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end])))
      break;
  }
  return text.substr(0, start) + block + text.substr(end);
}

// configs/<name> with the fault plugins' folder added to plugin_dirs.
std::string base_config(const std::string &name = "dev.yaml") {
  std::string text = read_file(std::string(TRADEHOST_SOURCE_DIR) + "/configs/" + name);
  return replace_section(text, "plugin_dirs",
                         "plugin_dirs:\n  - ${TRADEHOST_PLUGIN_DIR}\n  - " + std::string(FAULT_PLUGIN_DIR) +
                             "\n");
}

// Writes `text` as a deployment file in a new temporary folder; returns its path.
std::string write_config(const std::string &text) {
  std::string path = th::test::make_temp_dir("tradehost-failclosed") + "/deployment.yaml";
  std::ofstream(path) << text;
  return path;
}

// The 1-based line of the first line of `path` containing `needle`.
int line_of(const std::string &path, const std::string &needle) {
  std::istringstream in(read_file(path));
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.find(needle) != std::string::npos)
      return n;
  }
  return 0;
}

// `tradehost ARGS...` as a child process in the host's environment, awaited (60 s at most).
std::pair<int, std::string> run_to_exit(const HostProcess &host, std::vector<std::string> args,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  args.insert(args.begin(), TRADEHOST_BIN);
  std::string log = host.data_dir() + "/child-" + std::to_string(::getpid()) + "-" +
                    std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".log";
  ChildProcess child(args, log, host.env());
  int code = child.wait(timeout);
  return {code, child.output()};
}

HostOptions options_for(const std::string &config) {
  HostOptions o;
  o.config = config;
  return o;
}

const char *const risk_header = "risk:\n  - id: limits\n";

std::string fault_risk(const std::string &params) {
  return std::string(risk_header) + "    plugin: fault-risk\n    params: " + params + "\n";
}

// The message every fail-closed refusal carries: file:line of the entry, the instance, the reason.
void expect_refusal(const std::string &output, const std::string &config, int line,
                    const std::string &instance, const std::string &reason) {
  std::string where = config + ":" + std::to_string(line) + ":";
  EXPECT_NE(output.find(where), std::string::npos) << "no " << where << " in:\n" << output;
  EXPECT_NE(output.find(instance), std::string::npos) << "no " << instance << " in:\n" << output;
  EXPECT_NE(output.find(reason), std::string::npos) << "no " << reason << " in:\n" << output;
  EXPECT_EQ(output.find(R"("event":"started")"), std::string::npos) << "it served:\n" << output;
}

// n normalized signals that make momentum (lookback 20, warming up: it follows the signal) emit
// an intent each.
std::string write_signals(const std::string &path, int n) {
  std::ofstream out(path);
  for (int i = 0; i < n; ++i) {
    char ts[64];
    std::snprintf(ts, sizeof ts, "2025-01-15T10:00:%02d.000Z", i % 60);
    out << json{{"corr_id", "fc_" + std::to_string(1000 + i)},
                {"instrument", "AAPL"},
                {"signal", "buy"},
                {"strength", 0.9},
                {"price", 100.0 + i},
                {"timestamp", ts}}
               .dump()
        << "\n";
  }
  return path;
}

} // namespace

// Finding 1 + 3: a risk check whose create() fails is never dropped from the chain.
TEST(FailClosed, RiskCheckThatCannotBeCreatedStopsRunReplayAndValidateDeep) {
  std::string config = write_config(
      replace_section(base_config(), "risk", fault_risk(R"({"fail_create": "no limits table"})")));
  HostProcess host(options_for(config));
  int line = line_of(config, "- id: limits");
  ASSERT_GT(line, 0);

  auto [run_code, run_out] = run_to_exit(host, {"run", "-c", config});
  EXPECT_EQ(run_code, 2) << run_out;
  expect_refusal(run_out, config, line, "risk check 'limits' (plugin fault-risk)",
                 "create failed: no limits table");

  std::string signals = write_signals(host.data_dir() + "/signals.jsonl", 3);
  auto [replay_code, replay_out] = run_to_exit(host, {"replay", "-c", config, signals});
  EXPECT_EQ(replay_code, 2) << replay_out;
  expect_refusal(replay_out, config, line, "risk check 'limits' (plugin fault-risk)", "no limits table");
  EXPECT_EQ(replay_out.find("fills"), std::string::npos) << replay_out;

  // Plain validate cannot see it (params are valid); --deep creates the instance and does.
  auto [validate_code, validate_out] = run_to_exit(host, {"validate", "-c", config});
  EXPECT_EQ(validate_code, 0) << validate_out;
  auto [deep_code, deep_out] = run_to_exit(host, {"validate", "-c", config, "--deep"});
  EXPECT_EQ(deep_code, 2) << deep_out;
  expect_refusal(deep_out, config, line, "risk check 'limits' (plugin fault-risk)",
                 "create failed: no limits table");
}

// Finding 3: an executor whose start() fails stops the process; so does one whose create() fails.
TEST(FailClosed, ExecutorThatCannotStartStopsRunAndValidateDeep) {
  std::string config = write_config(replace_section(base_config(), "executors",
                                                    "executors:\n  - id: broker\n    plugin: fault-exec\n    "
                                                    "params: {\"fail_start\": \"venue login refused\"}\n"));
  HostProcess host(options_for(config));
  int line = line_of(config, "- id: broker");
  auto [code, out] = run_to_exit(host, {"run", "-c", config});
  EXPECT_EQ(code, 2) << out;
  expect_refusal(out, config, line, "executor 'broker' (plugin fault-exec)",
                 "start failed: venue login refused");

  auto [deep_code, deep_out] = run_to_exit(host, {"validate", "-c", config, "--deep", "--json"});
  EXPECT_EQ(deep_code, 2) << deep_out;
  auto report = json::parse(deep_out.substr(deep_out.find('{')), nullptr, false);
  ASSERT_TRUE(report.is_object()) << deep_out;
  EXPECT_EQ(report["valid"], false);
  ASSERT_EQ(report["errors"].size(), 1u) << deep_out;
  EXPECT_EQ(report["errors"][0]["line"], line);
  EXPECT_NE(report["errors"][0]["message"].get<std::string>().find("venue login refused"), std::string::npos);
}

// Finding 2: the real audit-sqlite sink with its signing key missing: no run, no replay.
TEST(FailClosed, AuditSinkThatCannotBeCreatedStopsRunAndReplay) {
  std::string text = base_config();
  text = replace_section(text, "audit",
                         "audit:\n  - id: trail\n    plugin: audit-sqlite\n    params:\n"
                         "      path: ${TRADEHOST_DATA_DIR}/audit.db\n"
                         "      signing_key: ${TRADEHOST_DATA_DIR}/no-such-key.key\n");
  std::string config = write_config(text);
  HostProcess host(options_for(config));
  int line = line_of(config, "- id: trail");
  auto [code, out] = run_to_exit(host, {"run", "-c", config});
  EXPECT_EQ(code, 2) << out;
  expect_refusal(out, config, line, "audit sink 'trail' (plugin audit-sqlite)", "no-such-key.key");

  std::string signals = write_signals(host.data_dir() + "/signals.jsonl", 3);
  auto [replay_code, replay_out] = run_to_exit(host, {"replay", "-c", config, signals});
  EXPECT_EQ(replay_code, 2) << replay_out;
  expect_refusal(replay_out, config, line, "audit sink 'trail' (plugin audit-sqlite)", "no-such-key.key");

  auto [deep_code, deep_out] = run_to_exit(host, {"validate", "-c", config, "--deep"});
  EXPECT_EQ(deep_code, 2) << deep_out;
  EXPECT_NE(deep_out.find("audit sink 'trail'"), std::string::npos) << deep_out;
}

// Finding 3: a sink whose start() fails, next to a good one: still no run.
TEST(FailClosed, SecondAuditSinkThatCannotStartStopsRun) {
  std::string config = write_config(replace_section(
      base_config(), "audit",
      "audit:\n  - id: trail\n    plugin: audit-sqlite\n    params:\n      path: "
      "${TRADEHOST_DATA_DIR}/audit.db\n"
      "  - id: mirror\n    plugin: fault-sink\n    params: {\"fail_start\": \"mirror disk missing\"}\n"));
  HostProcess host(options_for(config));
  auto [code, out] = run_to_exit(host, {"run", "-c", config});
  EXPECT_EQ(code, 2) << out;
  expect_refusal(out, config, line_of(config, "- id: mirror"), "audit sink 'mirror' (plugin fault-sink)",
                 "start failed: mirror disk missing");
}

// Finding 1: TH_ERROR from check_order rejects (rule risk_error); nothing is filled.
TEST(FailClosed, RiskCheckThatErrorsRejectsWithRiskError) {
  std::string config =
      write_config(replace_section(base_config(), "risk", fault_risk(R"({"check_order": "error"})")));
  HostProcess host(options_for(config));
  std::string signals = write_signals(host.data_dir() + "/signals.jsonl", 12);
  auto [code, out] = run_to_exit(host, {"replay", "-c", config, signals, "--json"});
  ASSERT_EQ(code, 0) << out;
  auto summary = json::parse(out.substr(out.find("{\n")), nullptr, false);
  ASSERT_TRUE(summary.is_object()) << out;
  EXPECT_EQ(summary["intents"], 0) << out;
  EXPECT_EQ(summary["fills"], 0) << out;
  EXPECT_GE(summary["rejections"].get<int>(), 12) << out;
  EXPECT_EQ(summary["rejections_by_rule"]["risk_error"], summary["rejections"]) << out;

  // The same over a live host: a webhook is rejected with risk_error, /positions stays empty.
  host.start();
  auto r = host.post_webhook(R"({"instrument":"AAPL","price":150.25,"signal":"buy","strength":0.8})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(eventually([&] {
    return host.get("/metrics").body.find(R"(agent_risk_checks_failed_total{reason="risk_error"} 1)") !=
           std::string::npos;
  })) << host.get("/metrics").body;
  EXPECT_EQ(json::parse(host.get("/positions").body)["positions"].size(), 0u);
  EXPECT_EQ(host.terminate(), 0);
}

// Finding 2, split roles: an audit process whose sink cannot be created exits 2 without binding
// to audit-all, so the signals wait in the stream for an audit process that can write them.
TEST(FailClosed, SplitRolesAuditProcessWithoutItsSinkConsumesNothing) {
  th::test::NatsServer nats;
  std::string text = read_file(std::string(TRADEHOST_SOURCE_DIR) + "/configs/split-roles/trading.yaml");
  std::string good = write_config(text);
  std::string bad = write_config(
      replace_section(text, "audit",
                      "audit:\n  - id: trail\n    plugin: audit-sqlite\n    params:\n"
                      "      path: ${TRADEHOST_DATA_DIR}/audit-signing.pub/audit.db\n")); // under a file
  auto role = [&](const std::string &config, const std::string &name) {
    HostOptions o;
    o.config = config;
    o.env = {{"NATS_URL", nats.url()}, {"TRADEHOST_NATS_NAME", name}};
    o.args = {"--role", name, "--listen", "127.0.0.1:0"};
    return std::make_unique<HostProcess>(o);
  };
  auto gateway = role(good, "gateway");
  gateway->start();
  auto r = gateway->post_webhook(R"({"instrument":"AAPL","price":150.25,"signal":"buy","strength":0.8})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string corr_id = json::parse(r.body)["corr_id"];

  auto broken = role(bad, "audit");
  auto [code, out] = run_to_exit(*broken, {"run", "-c", bad, "--role", "audit", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(code, 2) << out;
  expect_refusal(out, bad, line_of(bad, "- id: trail"), "audit sink 'trail' (plugin audit-sqlite)",
                 "create failed");
  EXPECT_EQ(out.find("jetstream.started"), std::string::npos) << out;

  // A working audit process started later writes the signal the broken one never touched.
  auto audit = role(good, "audit");
  audit->start();
  EXPECT_TRUE(eventually([&] {
    auto [c, rows] = audit->tradehost("audit export " + audit->audit_db());
    return c == 0 && rows.find(corr_id) != std::string::npos &&
           rows.find("signal_published") != std::string::npos;
  })) << audit->log();
}

// Finding 10: a missing risk plugin is never tolerated (run and validate exit 2).
TEST(FailClosed, RiskPluginThatIsNotInstalledStopsRunAndValidate) {
  std::string config = write_config(replace_section(
      base_config(), "risk", std::string(risk_header) + "    plugin: risk-limits-v9\n    params: {}\n"));
  HostProcess host(options_for(config));
  auto [code, out] = run_to_exit(host, {"run", "-c", config});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("risk-limits-v9"), std::string::npos) << out;
  EXPECT_EQ(out.find(R"("event":"started")"), std::string::npos) << out;
  auto [vcode, vout] = run_to_exit(host, {"validate", "-c", config});
  EXPECT_EQ(vcode, 2) << vout;
}

// Finding 10: an agent listed before its plugin exists waits (healthz, plugins, validate say so)
// and starts, and trades, when the plugin is dropped into plugin_dirs.
TEST(Waiting, AgentWaitsForItsPluginAndStartsWhenItArrives) {
  std::string plugins = th::test::make_temp_dir("tradehost-waiting-plugins");
  for (const char *p : {"risk-limits.so", "exec-sim.so", "audit-sqlite.so"})
    std::filesystem::copy_file(std::string(TRADEHOST_PLUGIN_BUILD_DIR) + "/" + p, plugins + "/" + p);
  HostOptions o;
  o.plugin_dir = plugins;
  HostProcess host(o);

  auto [vcode, vout] = host.tradehost("validate -c " + o.config);
  EXPECT_EQ(vcode, 0) << vout;
  EXPECT_NE(vout.find("warning:"), std::string::npos) << vout;
  EXPECT_NE(vout.find("momentum"), std::string::npos) << vout;
  auto [pcode, pout] = host.tradehost("plugins -c " + o.config + " --json");
  ASSERT_EQ(pcode, 0) << pout;
  auto listing = json::parse(pout.substr(pout.find('{')), nullptr, false);
  ASSERT_TRUE(listing.is_object()) << pout;
  ASSERT_EQ(listing["waiting"].size(), 1u) << pout;
  EXPECT_EQ(listing["waiting"][0]["agent"], "momentum_v1");
  EXPECT_EQ(listing["waiting"][0]["state"], "waiting");

  host.start();
  auto health = json::parse(host.get("/healthz").body);
  EXPECT_EQ(health["ok"], true) << health.dump();
  EXPECT_EQ(health["agents"]["momentum_v1"]["state"], "waiting") << health.dump();

  // Dropped in (written elsewhere, then renamed: the watcher sees a complete file).
  std::filesystem::copy_file(std::string(TRADEHOST_PLUGIN_BUILD_DIR) + "/momentum.so",
                             plugins + "/.momentum.tmp");
  std::filesystem::rename(plugins + "/.momentum.tmp", plugins + "/momentum.so");
  EXPECT_TRUE(eventually([&] {
    auto h = json::parse(host.get("/healthz").body, nullptr, false);
    return h.is_object() && h["agents"]["momentum_v1"]["state"] == "running";
  })) << host.get("/healthz").body
      << host.log();

  auto r = host.post_webhook(R"({"instrument":"AAPL","price":150.25,"signal":"buy","strength":0.8})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(eventually([&] {
    auto body = json::parse(host.get("/positions").body, nullptr, false);
    return body.is_object() && body["positions"].size() == 1;
  })) << host.get("/positions").body;
  EXPECT_EQ(host.terminate(), 0);
}

namespace {

// configs/jetstream.yaml (plus `extra` lines in bus.jetstream) for a host whose NATS_URL is `url`.
struct JetStreamHost {
  std::string config;
  std::unique_ptr<HostProcess> host; // environment, data dir and signing key; not started
  std::string log;

  JetStreamHost(const std::string &url, const std::string &extra = "") {
    std::string text = read_file(std::string(TRADEHOST_SOURCE_DIR) + "/configs/jetstream.yaml");
    if (!extra.empty())
      text.insert(text.find("    stream: TRADING\n"), extra);
    config = write_config(text);
    HostOptions o;
    o.config = config;
    o.env = {{"NATS_URL", url}};
    host = std::make_unique<HostProcess>(o);
    log = host->data_dir() + "/run.log";
  }
  std::unique_ptr<ChildProcess> run() const {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{TRADEHOST_BIN, "run", "-c", config, "--listen", "127.0.0.1:0"}, log,
        host->env());
  }
};

std::string unused_nats_url() {
  return "nats://127.0.0.1:" + std::to_string(th::test::free_loopback_port());
}

} // namespace

// Finding 12: no NATS at start. The host retries, one log line per attempt naming the error,
// and answers SIGTERM at once (exit 0 within a couple of seconds), not after 60 s.
TEST(JetStreamStart, SigtermWhileNoServerAnswersExitsPromptly) {
  JetStreamHost h(unused_nats_url());
  auto run = h.run();
  ASSERT_TRUE(eventually([&] { return run->output().find("jetstream.start_retry") != std::string::npos; }))
      << run->output();
  EXPECT_NE(run->output().find("cannot connect to"), std::string::npos) << run->output();
  auto asked = std::chrono::steady_clock::now();
  run->signal(SIGTERM);
  int code = run->wait(std::chrono::seconds(10));
  auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_EQ(code, 0) << run->output();
  EXPECT_LT(took, std::chrono::seconds(3)) << run->output();
  EXPECT_EQ(run->output().find(R"("event":"started")"), std::string::npos);
  RecordProperty("sigterm_to_exit_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

// Finding 12: the server started after the host: the host comes up and trades.
TEST(JetStreamStart, HostComesUpWhenTheServerStartsLater) {
  th::test::NatsServer::Options options;
  options.port = th::test::free_loopback_port();
  options.start = false;
  th::test::NatsServer nats(options);
  JetStreamHost h(nats.url());
  auto run = h.run();
  ASSERT_TRUE(eventually([&] { return run->output().find("jetstream.start_retry") != std::string::npos; }))
      << run->output();
  nats.start();
  static const std::regex started(R"re("event":"started".*"port":(\d+))re");
  std::smatch m;
  std::string out;
  ASSERT_TRUE(eventually(
      [&] {
        out = run->output();
        return std::regex_search(out, m, started) || !run->running();
      },
      std::chrono::seconds(30)))
      << run->output();
  ASSERT_TRUE(run->running()) << out;
  EXPECT_NE(out.find("jetstream.start_succeeded"), std::string::npos) << out;
  auto health = th::gateway::http_request("GET", "http://127.0.0.1:" + m[1].str() + "/healthz", "");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(json::parse(health.body)["nats"], "connected") << health.body;
  run->signal(SIGTERM);
  EXPECT_EQ(run->wait(std::chrono::seconds(30)), 0) << run->output();
}

// Finding 12: bus.jetstream.start_timeout_ms bounds the retries: exit 1, saying so.
TEST(JetStreamStart, GivesUpWithExitOneAfterStartTimeout) {
  JetStreamHost h(unused_nats_url(), "    start_timeout_ms: 1500\n");
  auto begin = std::chrono::steady_clock::now();
  auto run = h.run();
  int code = run->wait(std::chrono::seconds(30));
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(code, 1) << run->output();
  EXPECT_GE(took, std::chrono::milliseconds(1500));
  EXPECT_LT(took, std::chrono::seconds(10)) << run->output();
  EXPECT_NE(run->output().find("gave up after"), std::string::npos) << run->output();
  EXPECT_NE(run->output().find("start_timeout_ms 1500"), std::string::npos) << run->output();
}
