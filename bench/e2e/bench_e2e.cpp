// bench_e2e: signed webhook -> fill latency at a fixed offered rate, and the highest rate the
// whole host sustains, with every stage and the hash-chained audit trail on. Runs the host
// in-process (the same Service `tradehost run` uses) on the embedded bus or on JetStream.
//
//   bench_e2e [--bus embedded|jetstream] [--rate 1000] [--seconds 5] [--senders 16]
#include "cli/commands.hpp"
#include "cli/runtime.hpp"
#include "cli/serve.hpp"
#include "gateway/webhook_client.hpp"
#include "observability/log.hpp"
#include "support/nats_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
const char *const secret = "bench-secret";

std::string deployment(const std::string &bus_section) {
  return R"(version: 1
name: bench-e2e
data_dir: ${TRADEHOST_DATA_DIR}
plugin_dirs: ["${TRADEHOST_PLUGIN_DIR}"]
)" + bus_section +
         R"(
agents:
  - id: momentum_v1
    strategy:
      plugin: momentum
      params: {lookback: 2, base_quantity: 1, max_position: 1000000000}  # stop_loss: the default 0.02
risk:
  - id: limits
    plugin: risk-limits
    params: {max_order_quantity: 500, max_position: 1000000000}
executors:
  - id: sim
    plugin: exec-sim
    params: {seed: 42, slippage_bps: 2, commission_per_share: 0.005, fee_bps: 0.5}
audit:
  - id: trail
    plugin: audit-sqlite
    params: {path: "${TRADEHOST_DATA_DIR}/audit.db", signing_key: "${TRADEHOST_DATA_DIR}/audit-signing.key"}
gateway:
  listen: 127.0.0.1:0
  threads: 2
  sources:
    test:
      secrets: [")" +
         std::string(secret) + R"("]
      rate_limit: {rate_per_s: 1000000, burst: 1000000}
logging:
  level: error
)";
}

struct Args {
  std::string bus = "embedded";
  int rate = 1000;
  int seconds = 5;
  int senders = 16;
};

std::string body(uint64_t i) {
  char b[160];
  // Buys at 101 and sells at 100, alternating: with lookback 2 momentum confirms every signal,
  // and the position (with its protective stop) stays flat or one lot.
  std::snprintf(b, sizeof b, R"({"instrument":"AAPL","price":%s,"signal":"%s","strength":0.9})",
                i % 2 ? "100" : "101", i % 2 ? "sell" : "buy");
  return b;
}

// One keep-alive HTTP/1.1 connection to the gateway (the load generator must cost little next
// to the host on a 2-core machine, so no per-request connect).
class Connection {
public:
  explicit Connection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0)
      throw std::runtime_error("connect failed");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Connection() { ::close(fd_); }
  // POSTs and returns (status, body).
  std::pair<int, std::string> post(const std::string &path, const std::string &body,
                                   const th::gateway::HeaderList &headers) {
    std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for (auto &[k, v] : headers)
      req += k + ": " + v + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      throw std::runtime_error("send failed");
    for (;;) {
      auto end = in_.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto cl = in_.find("Content-Length: ");
        if (cl == std::string::npos || cl > end)
          cl = in_.find("content-length: ");
        size_t length = cl != std::string::npos && cl < end ? std::stoul(in_.substr(cl + 16)) : 0;
        if (in_.size() >= end + 4 + length) {
          int status = std::stoi(in_.substr(9, 3));
          std::string b = in_.substr(end + 4, length);
          in_.erase(0, end + 4 + length);
          return {status, b};
        }
      }
      char buf[8192];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        throw std::runtime_error("connection closed");
      in_.append(buf, static_cast<size_t>(n));
    }
  }

private:
  int fd_ = -1;
  std::string in_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Fill times by corr_id, recorded by a probe subscribed beside the audit stage.
struct Probe {
  std::mutex mutex;
  std::map<std::string, Clock::time_point> fills;
  std::atomic<uint64_t> count{0};
};

struct Result {
  double offered = 0, achieved = 0, p50_ms = 0, p99_ms = 0, bus_msgs_per_s = 0;
  uint64_t accepted = 0, filled = 0, errors = 0;
};

double bus_published(th::Metrics &m) {
  double total = 0;
  for (const auto &family : m.registry().Collect())
    if (family.name == "tradehost_bus_published_total")
      for (const auto &metric : family.metric)
        total += metric.counter.value;
  return total;
}

std::function<std::vector<th::ConsumerHealth>()> bus_health;

// rate > 0: open loop at that rate; rate == 0: every sender as fast as it can (closed loop).
Result drive(uint16_t port, Probe &probe, th::Metrics &metrics, int rate, int seconds, int senders) {
  std::mutex mutex;
  std::map<std::string, Clock::time_point> sent;
  std::atomic<uint64_t> next{0}, accepted{0}, errors{0};
  uint64_t fills_before = probe.count;
  double bus_before = bus_published(metrics);
  auto start = Clock::now();
  auto end = start + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t)
    threads.emplace_back([&] {
      Connection connection(port);
      for (;;) {
        uint64_t i = next++;
        auto due =
            rate > 0
                ? start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * static_cast<double>(i) / rate))
                : Clock::now();
        if (due >= end)
          return;
        std::this_thread::sleep_until(due);
        std::string b = body(i);
        auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch());
        auto t0 = Clock::now();
        try {
          auto [status, response] =
              connection.post("/webhook/test", b, th::gateway::sign_webhook(secret, b, now_s.count()));
          if (status != 200) {
            ++errors;
            continue;
          }
          auto corr = nlohmann::json::parse(response)["corr_id"].get<std::string>();
          ++accepted;
          std::lock_guard lock(mutex);
          sent[corr] = t0;
        } catch (const std::exception &) {
          ++errors;
        }
      }
    });
  for (auto &t : threads)
    t.join();
  if (rate == 0) // where a backlog builds when the host is driven flat out
    for (const auto &c : bus_health())
      std::printf("  queue %-14s pending %llu\n", c.durable.c_str(), (unsigned long long)c.num_pending);
  // Let the pipeline finish what was accepted (bounded wait).
  auto settle = Clock::now() + std::chrono::seconds(30);
  while (probe.count - fills_before < accepted && Clock::now() < settle)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Result r;
  r.offered = rate;
  r.accepted = accepted;
  r.errors = errors;
  std::vector<double> latencies;
  std::lock_guard lock(probe.mutex);
  Clock::time_point last_fill = start;
  for (auto &[corr, t0] : sent)
    if (auto it = probe.fills.find(corr); it != probe.fills.end()) {
      latencies.push_back(std::chrono::duration<double, std::milli>(it->second - t0).count());
      last_fill = std::max(last_fill, it->second);
    }
  r.filled = latencies.size();
  double window = std::max(1e-9, std::chrono::duration<double>(last_fill - start).count());
  r.achieved = static_cast<double>(r.filled) / window;
  r.p50_ms = percentile(latencies, 0.50);
  r.p99_ms = percentile(latencies, 0.99);
  r.bus_msgs_per_s = (bus_published(metrics) - bus_before) / std::min(elapsed, window);
  return r;
}

} // namespace

int main(int argc, char **argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--bus")
      a.bus = v;
    else if (k == "--rate")
      a.rate = std::stoi(v);
    else if (k == "--seconds")
      a.seconds = std::stoi(v);
    else if (k == "--senders")
      a.senders = std::stoi(v);
  }
  char pattern[] = "/tmp/tradehost-bench-e2e-XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  std::unique_ptr<th::test::NatsServer> nats;
  std::string bus_section = "bus: {kind: embedded, queue_capacity: 16384}";
  if (a.bus == "jetstream") {
    nats = std::make_unique<th::test::NatsServer>();
    bus_section = "bus:\n  kind: jetstream\n  jetstream:\n    servers: [\"" + nats->url() +
                  "\"]\n    consumers: {defer_handler_publishes: true}";
  }
  std::ofstream(dir + "/bench.yaml") << deployment(bus_section);
  ::setenv("TRADEHOST_DATA_DIR", dir.c_str(), 1);
  ::setenv("TRADEHOST_PLUGIN_DIR", TRADEHOST_PLUGIN_BUILD_DIR, 1);
  if (th::cli::audit_command({"keygen", "--out", dir + "/audit-signing"}) != 0)
    return 2;
  th::log::set_level(th::log::Level::error);

  auto rt = th::cli::load_runtime(dir + "/bench.yaml", th::cli::BusChoice::deployment);
  if (!rt)
    return 2;
  Probe probe;
  rt->bus->subscribe({"bench-probe", {th::Subject::executions_fill}}, [&](const th::Delivery &d) {
    auto now = Clock::now();
    const auto &fill = std::get<th::Fill>(d.message.payload);
    std::lock_guard lock(probe.mutex);
    probe.fills.emplace(fill.corr_id, now);
    ++probe.count;
  });
  bus_health = [&] { return rt->bus->health().consumers; };
  th::cli::Service service(*rt, th::role_all);
  service.start();

  drive(service.port(), probe, rt->metrics, 200, 1, 4); // warm-up
  Result fixed = drive(service.port(), probe, rt->metrics, a.rate, a.seconds, a.senders);
  Result max = drive(service.port(), probe, rt->metrics, 0, a.seconds, a.senders);
  service.stop();

  std::printf("\nwebhook -> fill, audit trail on, bus %s (%d s per run, %d senders)\n", a.bus.c_str(),
              a.seconds, a.senders);
  std::printf("%-22s %12s %12s %10s %10s %10s %14s\n", "load", "offered/s", "filled/s", "p50 ms", "p99 ms",
              "errors", "bus msgs/s");
  auto row = [](const char *name, const Result &r) {
    std::printf("%-22s %12.0f %12.0f %10.3f %10.3f %10llu %14.0f\n", name, r.offered, r.achieved, r.p50_ms,
                r.p99_ms, static_cast<unsigned long long>(r.errors), r.bus_msgs_per_s);
  };
  row("fixed rate", fixed);
  Result shown = max;
  shown.offered = 0;
  row("max sustained", shown);
  std::filesystem::remove_all(dir);
  return 0;
}
