// A closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending one signed
// webhook (fresh nonce, current timestamp, HMAC-SHA256) and waiting for its answer before the
// next. Reports requests/s and latency percentiles as one table row (and a machine-readable line
// with --raw). The same requests go to nginx in run.sh, so both sides pay the same client cost.
#include "gateway/crypto.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 8001;
  std::string path = "/webhook/test";
  std::string secret = "bench-secret";
  int connections = 64;
  int threads = 1;
  double duration_s = 5;
  double warmup_s = 1;
  std::string label = "target";
  bool raw = false;
};

const char *const usage = R"(Usage: bench_gateway [--port P] [--host H] [--path /webhook/test] [--secret S]
       [--connections 64] [--threads 1] [--duration 5] [--warmup 1] [--label NAME] [--raw]
Sends signed webhooks over keep-alive connections and prints requests/s, p50, p99, p99.9 and errors.
)";

struct Connection {
  int fd = -1;
  std::string request;
  size_t sent = 0;
  std::string received;
  Clock::time_point started;
};

struct Result {
  uint64_t ok = 0, errors = 0;
  std::vector<uint32_t> latency_us;
};

const std::string body = R"({"instrument":"BTC/USDT","price":42000.5,"signal":"buy","strength":0.8})";

int connect_to(const Options &o) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(o.port));
  inet_pton(AF_INET, o.host.c_str(), &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// One signed request with a nonce unique across threads and runs.
std::string make_request(const Options &o, const std::string &nonce_prefix, uint64_t n) {
  std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::string nonce = nonce_prefix + std::to_string(n);
  std::string signature = th::gateway::webhook_signature(o.secret, timestamp, nonce, body);
  std::string r;
  r.reserve(400);
  r += "POST " + o.path + " HTTP/1.1\r\nHost: " + o.host +
       "\r\nContent-Type: application/json\r\nX-Timestamp: " + timestamp + "\r\nX-Nonce: " + nonce +
       "\r\nX-Signature: " + signature + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
       body;
  return r;
}

// Length of one complete response at the front of `in`, 0 when incomplete; status in *status.
size_t complete_response(const std::string &in, int *status, bool *closes) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string::npos)
    return 0;
  size_t length = 0;
  *status = in.size() > 12 ? std::atoi(in.c_str() + 9) : 0;
  *closes = false;
  for (size_t line = in.find("\r\n") + 2; line < end;) {
    size_t next = in.find("\r\n", line);
    std::string header = in.substr(line, next - line);
    for (auto &c : header)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (header.rfind("content-length:", 0) == 0)
      length = std::strtoul(header.c_str() + 15, nullptr, 10);
    if (header.rfind("connection:", 0) == 0 && header.find("close") != std::string::npos)
      *closes = true;
    line = next + 2;
  }
  return in.size() >= end + 4 + length ? end + 4 + length : 0;
}

void run_thread(const Options &o, int connections, int thread_index, Clock::time_point measure_from,
                Clock::time_point stop_at, Result &result) {
  int ep = epoll_create1(0);
  std::vector<Connection> conns(connections);
  std::string nonce_prefix = th::gateway::random_hex(6) + "-" + std::to_string(thread_index) + "-";
  uint64_t counter = 0;
  auto send_next = [&](Connection &c) {
    c.request = make_request(o, nonce_prefix, counter++);
    c.sent = 0;
    c.started = Clock::now();
    while (c.sent < c.request.size()) {
      ssize_t n = write(c.fd, c.request.data() + c.sent, c.request.size() - c.sent);
      if (n > 0)
        c.sent += static_cast<size_t>(n);
      else if (errno != EAGAIN)
        return false;
      else
        std::this_thread::yield();
    }
    return true;
  };
  auto open = [&](size_t i) {
    conns[i].fd = connect_to(o);
    conns[i].received.clear();
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e);
    send_next(conns[i]);
  };
  for (int i = 0; i < connections; ++i)
    open(static_cast<size_t>(i));
  result.latency_us.reserve(4'000'000);
  std::vector<epoll_event> events(static_cast<size_t>(connections));
  char buffer[16384];
  while (Clock::now() < stop_at) {
    int n = epoll_wait(ep, events.data(), connections, 100);
    for (int k = 0; k < n; ++k) {
      size_t i = events[static_cast<size_t>(k)].data.u64;
      Connection &c = conns[i];
      ssize_t got = read(c.fd, buffer, sizeof buffer);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN)
          continue;
        close(c.fd); // the server closed: count and reconnect
        ++result.errors;
        open(i);
        continue;
      }
      c.received.append(buffer, static_cast<size_t>(got));
      int status = 0;
      bool closes = false;
      size_t used = complete_response(c.received, &status, &closes);
      if (!used)
        continue;
      auto now = Clock::now();
      if (now >= measure_from) {
        if (status >= 200 && status < 300) {
          ++result.ok;
          result.latency_us.push_back(static_cast<uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count()));
        } else {
          ++result.errors;
        }
      }
      c.received.erase(0, used);
      if (closes) {
        close(c.fd);
        open(i);
      } else {
        send_next(c);
      }
    }
  }
  for (auto &c : conns)
    close(c.fd);
  close(ep);
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fputs(usage, stderr);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port")
      o.port = std::stoi(next());
    else if (a == "--host")
      o.host = next();
    else if (a == "--path")
      o.path = next();
    else if (a == "--secret")
      o.secret = next();
    else if (a == "--connections")
      o.connections = std::stoi(next());
    else if (a == "--threads")
      o.threads = std::max(1, std::stoi(next()));
    else if (a == "--duration")
      o.duration_s = std::stod(next());
    else if (a == "--warmup")
      o.warmup_s = std::stod(next());
    else if (a == "--label")
      o.label = next();
    else if (a == "--raw")
      o.raw = true;
    else {
      std::fputs(usage, a == "--help" || a == "-h" ? stdout : stderr);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  auto start = Clock::now();
  auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup_s));
  auto stop_at =
      measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  std::vector<Result> results(static_cast<size_t>(o.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    int share = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    threads.emplace_back(run_thread, std::cref(o), share, t, measure_from, stop_at,
                         std::ref(results[static_cast<size_t>(t)]));
  }
  for (auto &t : threads)
    t.join();
  Result all;
  for (auto &r : results) {
    all.ok += r.ok;
    all.errors += r.errors;
    all.latency_us.insert(all.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
  }
  std::sort(all.latency_us.begin(), all.latency_us.end());
  auto pct = [&](double p) -> double {
    if (all.latency_us.empty())
      return 0;
    return all.latency_us[std::min(all.latency_us.size() - 1,
                                   static_cast<size_t>(p * all.latency_us.size()))] /
           1000.0;
  };
  double rate = all.ok / o.duration_s;
  if (o.raw) {
    std::printf("%s %.0f %.3f %.3f %.3f %llu\n", o.label.c_str(), rate, pct(0.5), pct(0.99), pct(0.999),
                static_cast<unsigned long long>(all.errors));
  } else {
    std::printf("%-10s %12s %10s %10s %10s %8s\n", "target", "requests/s", "p50 ms", "p99 ms", "p99.9 ms",
                "errors");
    std::printf("%-10s %12.0f %10.3f %10.3f %10.3f %8llu\n", o.label.c_str(), rate, pct(0.5), pct(0.99),
                pct(0.999), static_cast<unsigned long long>(all.errors));
  }
  return 0;
}
