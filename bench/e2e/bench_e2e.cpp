// bench_e2e: signed webhook -> fill latency at a fixed offered rate, and the highest rate the
// whole host sustains, with every stage and the hash-chained audit trail on. Runs the host
// in-process (the same Service `tradehost run` uses) on the embedded bus or on JetStream.
//
//   bench_e2e [--bus embedded|jetstream] [--rate 1000] [--seconds 5] [--senders 16] [--steady 3]
//             [--threads 1] [--slowest N] [--audit-params "batch_max: 512"]
//
// The flat-out run also reports its steady state: fills/s and audited signals/s (audit rows
// committed per second over the rows one signal produces) over the last --steady seconds while
// every sender still runs, i.e. after the queues filled; and the process CPU time per signal.
// --threads 1 prints the CPU time each thread used in the flat-out run (threads by name).
// --slowest N prints the fixed-rate run's N slowest signals with the time the gateway took to
// answer each (its publish), so a tail can be placed before or after the bus took the signal.
#include "app/runtime.hpp"
#include "app/service.hpp"
#include "gateway/webhook_client.hpp"
#include "observability/log.hpp"
#include "support/nats_server.hpp"

#include <audit_chain/checkpoint.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
const char *const secret = "bench-secret";

// audit_params: extra audit-sqlite params, e.g. "batch_max: 4096" (YAML flow-map members).
std::string deployment(const std::string &bus_section, const std::string &audit_params) {
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
    params: {path: "${TRADEHOST_DATA_DIR}/audit.db", signing_key: "${TRADEHOST_DATA_DIR}/audit-signing.key")" +
         (audit_params.empty() ? "" : ", " + audit_params) + R"(}
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
  int steady = 3;
  bool threads = false;
  bool flat_out = true;
  int slowest = 0;
  std::string audit_params;
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
  // Flat out only: the last `steady` seconds while every sender ran.
  double steady_fills_per_s = 0, steady_audited_per_s = 0;
  double cpu_us_per_signal = 0;     // process CPU (all threads, senders included) / signals filled
  double kb_written_per_signal = 0; // write()/pwrite() bytes (audit WAL and database, sockets) / signal
};

double counter_total(th::Metrics &m, const std::string &name) {
  double total = 0;
  for (const auto &family : m.registry().Collect())
    if (family.name == name)
      for (const auto &metric : family.metric)
        total += metric.counter.value;
  return total;
}
double bus_published(th::Metrics &m) {
  return counter_total(m, "tradehost_bus_published_total");
}
double audit_rows(th::Metrics &m) {
  return counter_total(m, "audit_sink_events_written_total");
}

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// Bytes this process wrote through write()/pwrite() so far (sockets included), from /proc/self/io.
double bytes_written() {
  std::ifstream io("/proc/self/io");
  std::string key;
  double value = 0;
  while (io >> key >> value)
    if (key == "wchar:")
      return value;
  return 0;
}

// CPU seconds per thread name (threads of one name summed), from /proc/self/task.
std::map<std::string, double> thread_cpu() {
  std::map<std::string, double> by_name;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  DIR *tasks = ::opendir("/proc/self/task");
  if (!tasks)
    return by_name;
  while (dirent *entry = ::readdir(tasks)) {
    if (entry->d_name[0] == '.')
      continue;
    std::ifstream stat(std::string("/proc/self/task/") + entry->d_name + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto open = text.find('('), close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos)
      continue;
    std::string name = text.substr(open + 1, close - open - 1);
    // After ") ": state, then fields 4.. ; utime and stime are fields 14 and 15.
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14)
        utime = std::stod(field);
      if (i == 15)
        stime = std::stod(field);
    }
    by_name[name] += (utime + stime) / tick;
  }
  ::closedir(tasks);
  return by_name;
}

std::function<std::vector<th::ConsumerHealth>()> bus_health;

// Audit rows one signal produces (measured in the warm-up), to turn rows/s into signals/s.
double rows_per_signal = 6;
int steady = 3;
int slowest = 0; // --slowest N: the fixed-rate run's N slowest signals, to tell where a tail comes from

// rate > 0: open loop at that rate; rate == 0: every sender as fast as it can (closed loop).
Result drive(uint16_t port, Probe &probe, th::Metrics &metrics, int rate, int seconds, int senders) {
  std::mutex mutex;
  std::map<std::string, Clock::time_point> sent;
  std::map<std::string, double> answered_ms; // webhook sent -> 200 received (the gateway's part)
  std::atomic<uint64_t> next{0}, accepted{0}, errors{0};
  uint64_t fills_before = probe.count;
  double bus_before = bus_published(metrics);
  double cpu_before = process_cpu_seconds();
  double written_before = bytes_written();
  auto start = Clock::now();
  auto end = start + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t)
    threads.emplace_back([&] {
      ::pthread_setname_np(::pthread_self(), "sender");
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
          answered_ms[corr] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        } catch (const std::exception &) {
          ++errors;
        }
      }
    });
  // Flat out: one sample a second while the senders run, for the steady-state window.
  struct Sample {
    Clock::time_point at;
    uint64_t fills;
    double rows;
  };
  std::vector<Sample> samples;
  if (rate == 0)
    for (auto at = start; at + std::chrono::seconds(1) <= end;) {
      at += std::chrono::seconds(1);
      std::this_thread::sleep_until(at);
      samples.push_back({Clock::now(), probe.count.load(), audit_rows(metrics)});
    }
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
  double cpu = process_cpu_seconds() - cpu_before;
  Result r;
  if (samples.size() > 1) {
    size_t from =
        samples.size() > static_cast<size_t>(steady) ? samples.size() - 1 - static_cast<size_t>(steady) : 0;
    const Sample &a = samples[from], &b = samples.back();
    double span = std::chrono::duration<double>(b.at - a.at).count();
    r.steady_fills_per_s = static_cast<double>(b.fills - a.fills) / span;
    r.steady_audited_per_s = (b.rows - a.rows) / rows_per_signal / span;
  }
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
  if (rate > 0 && slowest > 0) {
    std::vector<std::pair<double, std::string>> slow;
    for (auto &[corr, t0] : sent)
      if (auto it = probe.fills.find(corr); it != probe.fills.end())
        slow.emplace_back(std::chrono::duration<double, std::milli>(it->second - t0).count(), corr);
    std::sort(slow.rbegin(), slow.rend());
    slow.resize(std::min(slow.size(), static_cast<size_t>(slowest)));
    std::printf("slowest signals at %d/s: webhook -> fill ms, of which webhook -> 200 ms, sent at s\n", rate);
    for (auto &[ms, corr] : slow)
      std::printf("  %8.3f %8.3f %8.3f  %s\n", ms, answered_ms[corr],
                  std::chrono::duration<double>(sent[corr] - start).count(), corr.c_str());
  }
  r.filled = latencies.size();
  double window = std::max(1e-9, std::chrono::duration<double>(last_fill - start).count());
  r.achieved = static_cast<double>(r.filled) / window;
  r.p50_ms = percentile(latencies, 0.50);
  r.p99_ms = percentile(latencies, 0.99);
  r.bus_msgs_per_s = (bus_published(metrics) - bus_before) / std::min(elapsed, window);
  r.cpu_us_per_signal = r.filled ? 1e6 * cpu / static_cast<double>(r.filled) : 0;
  r.kb_written_per_signal =
      r.filled ? (bytes_written() - written_before) / 1024 / static_cast<double>(r.filled) : 0;
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
    else if (k == "--steady")
      a.steady = std::stoi(v);
    else if (k == "--threads")
      a.threads = v != "0";
    else if (k == "--flat-out")
      a.flat_out = v != "0";
    else if (k == "--slowest")
      a.slowest = std::stoi(v);
    else if (k == "--audit-params")
      a.audit_params = v;
    else {
      std::fprintf(
          stderr,
          "usage: bench_e2e [--bus embedded|jetstream] [--rate N] [--seconds N] [--senders N] "
          "[--steady N] [--threads 0|1] [--flat-out 0|1] [--slowest N] [--audit-params \"k: v, ...\"]\n");
      return 2;
    }
  }
  steady = a.steady;
  slowest = a.slowest;
  char pattern[] = "/tmp/tradehost-bench-e2e-XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  std::unique_ptr<th::test::NatsServer> nats;
  std::string bus_section = "bus: {kind: embedded, queue_capacity: 16384}";
  if (a.bus == "jetstream") {
    nats = std::make_unique<th::test::NatsServer>();
    bus_section = "bus:\n  kind: jetstream\n  jetstream:\n    servers: [\"" + nats->url() +
                  "\"]\n    consumers: {defer_handler_publishes: true}";
  }
  std::string yaml = deployment(bus_section, a.audit_params);
  // Embedded: the deployment's default io threads (half the cores). JetStream: an io thread waits
  // for a PubAck round trip per webhook; 16 overlap them, as configs/jetstream.yaml does.
  if (auto at = yaml.find("  threads: 2\n"); at != std::string::npos)
    yaml.replace(at, 13, a.bus == "jetstream" ? "  threads: 16\n" : "");
  std::ofstream(dir + "/bench.yaml") << yaml;
  ::setenv("TRADEHOST_DATA_DIR", dir.c_str(), 1);
  ::setenv("TRADEHOST_PLUGIN_DIR", TRADEHOST_PLUGIN_BUILD_DIR, 1);
  try {
    th::audit::generate_key_pair(dir + "/audit-signing");
  } catch (const std::exception &e) {
    std::fprintf(stderr, "bench_e2e: keygen: %s\n", e.what());
    return 2;
  }
  th::log::set_level(th::log::Level::error);

  auto rt = th::app::load_runtime(dir + "/bench.yaml", th::app::BusChoice::deployment);
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
  th::app::Service service(*rt, th::role_all);
  service.start();

  Result warm = drive(service.port(), probe, rt->metrics, 200, 1, 4); // warm-up
  rt->bus->wait_idle(std::chrono::seconds(30));
  for (auto deadline = Clock::now() + std::chrono::seconds(5);
       warm.filled && audit_rows(rt->metrics) < 1 && Clock::now() < deadline;)
    std::this_thread::sleep_for(std::chrono::milliseconds(10)); // the first group commit
  if (warm.filled && audit_rows(rt->metrics) > 0) {
    // The sink commits in batches: wait until the count stops moving.
    for (double last = -1; last != audit_rows(rt->metrics);) {
      last = audit_rows(rt->metrics);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    rows_per_signal = audit_rows(rt->metrics) / static_cast<double>(warm.filled);
  }
  // JetStream: the nats-server process's CPU seconds (not in the host's CPU figures).
  auto server_cpu = [&] {
    if (!nats) // embedded: there is no server process
      return 0.0;
    std::ifstream stat("/proc/" + std::to_string(nats ? nats->pid() : 0) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>()), field;
    std::istringstream rest(text.substr(text.rfind(')') + 2));
    double ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i)
      ticks += i >= 14 ? std::stod(field) : 0;
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  };
  double server_cpu_fixed = server_cpu();
  Result fixed = drive(service.port(), probe, rt->metrics, a.rate, a.seconds, a.senders);
  double server_cpu_max = server_cpu();
  server_cpu_fixed = server_cpu_max - server_cpu_fixed;
  auto threads_before = thread_cpu();
  Result max;
  if (a.flat_out)
    max = drive(service.port(), probe, rt->metrics, 0, a.seconds, a.senders);
  auto threads_after = thread_cpu();
  server_cpu_max = server_cpu() - server_cpu_max;
  service.stop();
  if (nats)
    std::printf("\nnats-server CPU per signal: %.0f us at the fixed rate, %.0f us flat out\n",
                fixed.filled ? 1e6 * server_cpu_fixed / static_cast<double>(fixed.filled) : 0,
                max.filled ? 1e6 * server_cpu_max / static_cast<double>(max.filled) : 0);

  std::printf("\nwebhook -> fill, audit trail on, bus %s (%d s per run, %d senders)\n", a.bus.c_str(),
              a.seconds, a.senders);
  std::printf("%-22s %12s %12s %10s %10s %10s %14s\n", "load", "offered/s", "filled/s", "p50 ms", "p99 ms",
              "errors", "bus msgs/s");
  auto row = [](const char *name, const Result &r) {
    std::printf("%-22s %12.0f %12.0f %10.3f %10.3f %10llu %14.0f\n", name, r.offered, r.achieved, r.p50_ms,
                r.p99_ms, static_cast<unsigned long long>(r.errors), r.bus_msgs_per_s);
  };
  row("fixed rate", fixed);
  if (!a.flat_out) {
    std::printf("\nCPU per signal at the fixed rate: %.0f us; written per signal: %.1f KiB\n",
                fixed.cpu_us_per_signal, fixed.kb_written_per_signal);
    std::filesystem::remove_all(dir);
    return 0;
  }
  Result shown = max;
  shown.offered = 0;
  row("max sustained", shown);
  std::printf(
      "\nflat out: steady state over the last %d s: %.0f fills/s, %.0f audited signals/s "
      "(%.2f audit rows per signal)\n"
      "CPU per signal: %.0f us flat out, %.0f us at the fixed rate; written per signal: %.1f KiB flat out, "
      "%.1f KiB at the fixed rate\n",
      a.steady, max.steady_fills_per_s, max.steady_audited_per_s, rows_per_signal, max.cpu_us_per_signal,
      fixed.cpu_us_per_signal, max.kb_written_per_signal, fixed.kb_written_per_signal);
  if (a.threads) {
    std::printf("\nCPU seconds per thread during the flat-out run (%llu signals filled):\n",
                static_cast<unsigned long long>(max.filled));
    std::vector<std::pair<double, std::string>> used;
    for (auto &[name, after] : threads_after) {
      auto it = threads_before.find(name);
      used.emplace_back(after - (it == threads_before.end() ? 0 : it->second), name);
    }
    std::sort(used.rbegin(), used.rend());
    for (auto &[secs, name] : used)
      if (secs > 0)
        std::printf("  %-16s %7.2f s %8.1f us/signal\n", name.c_str(), secs,
                    max.filled ? 1e6 * secs / static_cast<double>(max.filled) : 0);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
