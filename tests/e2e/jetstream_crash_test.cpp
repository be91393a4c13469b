// Crash consistency on JetStream (issue 13): signed webhooks, each with its own
// X-Idempotency-Key, flow from client threads that retry every 503 and every lost answer with
// the same key, as a client of a trading host must. Meanwhile the host, the nats-server, or the
// stream's leader in a 3-node cluster (stream replicas 3) is killed (SIGKILL) at random points and
// restarted on the same data directory and store.
// Afterwards, from the audit trail:
//   - every key's 200 names one corr_id, which has exactly one receipt and one decision;
//   - the trail holds no webhook that no key was answered with (nothing recorded twice);
//   - no order is filled twice; `GET /positions` equals the net of the trail's fills;
//   - `tradehost audit verify` accepts the trail.
#include "../support/nats_cluster.hpp"
#include "../support/nats_server.hpp"
#include "audit_trail.hpp"
#include "host_process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace th::test {
namespace {

// Client threads, each posting key after key and retrying a key until it gets a 200.
class KeyedLoad {
public:
  explicit KeyedLoad(size_t threads) {
    for (size_t t = 0; t < threads; ++t)
      threads_.emplace_back([this, t] { run(t); });
  }
  ~KeyedLoad() { stop(); }

  void set_port(uint16_t port) { port_ = port; }
  size_t answered() const { return answered_.load(); }
  std::map<std::string, std::string> corr_id_by_key() const {
    std::lock_guard lock(mutex_);
    return corr_ids_;
  }
  size_t retries() const { return retries_.load(); }
  // Lets every thread finish the key it is on, then stops.
  void stop() {
    stop_ = true;
    for (auto &t : threads_)
      if (t.joinable())
        t.join();
  }

private:
  void run(size_t thread) {
    const std::string instrument = "JSCR" + std::string(1, static_cast<char>('A' + thread % 26));
    for (uint64_t i = 0; !stop_; ++i) {
      const std::string key = "t" + std::to_string(thread) + "-" + std::to_string(i);
      const std::string body = R"({"instrument":")" + instrument + R"(","signal":")" +
                               (i % 2 ? "sell" : "buy") + R"(","strength":1.0,"price":)" +
                               std::to_string(100 + i % 7) + "}";
      for (bool first = true;; first = false) {
        if (!first)
          ++retries_;
        uint16_t port = port_;
        if (port == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch());
        auto headers = gateway::sign_webhook(HostProcess::secret, body, now.count());
        headers.emplace_back("X-Idempotency-Key", key);
        try {
          auto r = gateway::http_request("POST", "http://127.0.0.1:" + std::to_string(port) + "/webhook/test",
                                         body, headers, std::chrono::milliseconds(5000));
          if (r.status == 200) {
            std::lock_guard lock(mutex_);
            corr_ids_[key] = nlohmann::json::parse(r.body).at("corr_id").get<std::string>();
            ++answered_;
            break;
          }
          // 503 (the bus or the key store did not confirm) and 409 (the killed process's
          // reservation, until it turns stale): the same key again.
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        } catch (const std::exception &) { // the host is down, or the answer was lost
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
    }
  }

  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stop_{false};
  std::atomic<size_t> answered_{0}, retries_{0};
  mutable std::mutex mutex_;
  std::map<std::string, std::string> corr_ids_;
  std::vector<std::thread> threads_;
};

enum class Victim { host, nats_server, stream_leader };

const char *name_of(Victim victim) {
  return victim == Victim::host ? "host" : victim == Victim::nats_server ? "nats-server" : "stream leader";
}

// crash-jetstream.yaml naming the servers to reach (one, or the cluster's three).
std::string config_for(const std::vector<std::string> &urls) {
  std::ifstream in(std::string(TRADEHOST_SOURCE_DIR) + "/tests/e2e/crash-jetstream.yaml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  const std::string from = R"(servers: ["${NATS_URL:-nats://127.0.0.1:4222}"])";
  const size_t at = yaml.find(from);
  if (at == std::string::npos)
    throw std::runtime_error("crash-jetstream.yaml: the servers line is not there");
  std::string servers = "servers: [";
  for (const auto &url : urls)
    servers += (servers.back() == '[' ? "\"" : ", \"") + url + "\"";
  yaml.replace(at, from.size(), servers + "]");
  std::string file = make_temp_dir("tradehost-jscrash") + "/crash-jetstream.yaml";
  std::ofstream(file) << yaml;
  return file;
}

void kill_and_restart(Victim victim, size_t kills, size_t threads) {
  std::unique_ptr<NatsServer> nats;
  std::unique_ptr<NatsCluster> cluster;
  HostOptions options;
  if (victim == Victim::stream_leader) {
    cluster = std::make_unique<NatsCluster>();
    ASSERT_TRUE(cluster->wait_for_jetstream(std::chrono::seconds(20))) << cluster->node(0).read_log();
    options.config = config_for(cluster->urls());
    options.env["TRADEHOST_STREAM_REPLICAS"] = "3";
  } else {
    nats = std::make_unique<NatsServer>();
    options.config = config_for({nats->url()});
  }
  HostProcess host(options);
  host.start();
  KeyedLoad load(threads);
  load.set_port(host.port());
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<size_t> gap(20, 200); // answered webhooks between two kills
  for (size_t k = 0; k < kills; ++k) {
    const size_t target = load.answered() + gap(rng);
    ASSERT_TRUE(eventually([&] { return load.answered() >= target; }, std::chrono::seconds(120)))
        << "webhooks stopped being answered\n"
        << host.log();
    if (victim == Victim::host) {
      load.set_port(0);
      ASSERT_EQ(host.kill(), 128 + SIGKILL);
      host.start();
      load.set_port(host.port());
    } else if (victim == Victim::nats_server) {
      nats->kill();
      nats->start(); // same port and store
    } else {
      const int leader = cluster->stream_leader("TRADING");
      ASSERT_GE(leader, 0) << "no stream leader";
      cluster->node(leader).kill();
      // Webhooks go on while a new leader is elected; then the node comes back and catches up.
      const size_t during = load.answered() + 20;
      ASSERT_TRUE(eventually([&] { return load.answered() >= during; }, std::chrono::seconds(120)))
          << "webhooks stopped being answered without the leader\n"
          << host.log();
      cluster->node(leader).start();
    }
  }
  const size_t target = load.answered() + 50;
  ASSERT_TRUE(eventually([&] { return load.answered() >= target; }, std::chrono::seconds(120))) << host.log();
  load.stop();
  // A clean stop drains the stream into the trail; the restarted host's positions are those
  // it recorded (issue 13 finding 9), read while nothing new arrives.
  ASSERT_EQ(host.terminate(), 0) << host.log();
  host.start();
  auto positions = nlohmann::json::parse(host.get("/positions").body);
  ASSERT_EQ(host.terminate(), 0) << host.log();

  AuditTrail trail = read_audit_trail(host.audit_db());
  auto keys = load.corr_id_by_key();
  ASSERT_GE(keys.size(), kills * 20);
  std::set<std::string> answered_corr_ids;
  size_t missing = 0;
  for (const auto &[key, corr] : keys) {
    EXPECT_TRUE(answered_corr_ids.insert(corr).second) << corr << " answered for two keys";
    auto &types = trail.types[corr];
    int decisions = types["decision_made"] + types["order_rejected"];
    if (types["webhook_received"] != 1 || types["signal_published"] != 1 || decisions != 1)
      if (++missing <= 10)
        ADD_FAILURE() << key << " -> " << corr << ": webhook_received " << types["webhook_received"]
                      << ", signal_published " << types["signal_published"] << ", decisions " << decisions;
  }
  EXPECT_EQ(missing, 0u) << "of " << keys.size() << " keys";
  size_t unanswered = 0;
  for (const auto &[corr, types] : trail.types) {
    auto count = [&types = types](const char *type) { // clang 14 cannot capture a binding
      auto it = types.find(type);
      return it == types.end() ? 0 : it->second;
    };
    if (count("webhook_received") == 0)
      continue; // the host's own rows (started, protective stops)
    if (!answered_corr_ids.count(corr) && ++unanswered <= 10)
      ADD_FAILURE() << corr << " is in the trail but no key was answered with it (recorded twice?)";
    EXPECT_LE(count("decision_made") + count("order_rejected"), 1) << corr << " decided twice";
    EXPECT_EQ(count("fill_received"), static_cast<int>(trail.fill_ids[corr].size()))
        << corr << ": a fill recorded twice";
  }
  EXPECT_EQ(unanswered, 0u);
  // The portfolio applied each fill once: its positions are the trail's net fills.
  std::map<std::string, double> reported;
  for (const auto &p : positions.value("positions", nlohmann::json::array()))
    reported[p.value("instrument", "")] += p.value("quantity", 0.0);
  for (const auto &[instrument, net] : trail.net)
    EXPECT_DOUBLE_EQ(reported[instrument], net) << instrument;
  auto [code, out] = host.tradehost("audit verify " + host.audit_db() + " --pubkey " + host.data_dir() +
                                    "/audit-signing.pub");
  EXPECT_EQ(code, 0) << out;
  std::printf(
      "jetstream crash consistency: %zu kills of the %s, %zu keys answered, %zu retries, %zu trail rows\n",
      kills, name_of(victim), keys.size(), load.retries(), trail.rows);
}

TEST(JetStreamCrash, HostKilledEveryKeyIsRecordedAndDecidedOnce) {
  kill_and_restart(Victim::host, 2, 4);
}

TEST(JetStreamCrash, NatsServerKilledEveryKeyIsRecordedAndDecidedOnce) {
  kill_and_restart(Victim::nats_server, 2, 4);
}

// Clients retry 503s (a PubAck lost with the leader) with the same key: none recorded twice.
TEST(JetStreamCrash, StreamLeaderKilledEveryKeyIsRecordedAndDecidedOnce) {
  kill_and_restart(Victim::stream_leader, 1, 4);
}

TEST(JetStreamCrash, Soak) {
  const char *kills = std::getenv("TRADEHOST_SOAK_KILLS");
  if (!kills)
    GTEST_SKIP() << "set TRADEHOST_SOAK_KILLS=N (make soak) for a soak with N kill points per victim";
  const size_t n = static_cast<size_t>(std::stoul(kills));
  kill_and_restart(Victim::host, n, 6);
  kill_and_restart(Victim::nats_server, n, 6);
  kill_and_restart(Victim::stream_leader, std::max<size_t>(1, n / 5), 6);
}

} // namespace
} // namespace th::test
