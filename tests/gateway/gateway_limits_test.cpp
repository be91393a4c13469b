// Connection limits of the HTTP layer: caps on open connections (in all and per client address)
// answered with 503, and a listener that backs off when descriptors run out (a child process
// with a lowered RLIMIT_NOFILE) while it keeps serving the connections it has.
#include "gateway_fixture.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

namespace th::gateway::testing {
namespace {

// A keep-alive GET /healthz on c; the status.
unsigned healthz(RawConnection &c) {
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  return c.read().result_int();
}

// Polls until a new connection is served (the server noticed closed ones), within 10 s.
bool new_connection_served(uint16_t port) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    RawConnection c(port);
    c.set_read_timeout(std::chrono::seconds(5));
    try {
      if (healthz(c) == 200)
        return true;
    } catch (const std::exception &) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // polling a condition, not timing
  }
  return false;
}

TEST(GatewayLimits, ConnectionsPerClientAndInAllAreCappedWith503) {
  auto config = base_config();
  config["max_connections_per_client"] = 3;
  GatewayUnderTest g(config);
  g.start();
  std::vector<std::unique_ptr<RawConnection>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<RawConnection>(g.gateway->port()));
    ASSERT_EQ(healthz(*open.back()), 200u); // admitted
  }
  RawConnection fourth(g.gateway->port());
  fourth.set_read_timeout(std::chrono::seconds(10));
  auto refused = fourth.read(); // answered without sending anything
  EXPECT_EQ(refused.result_int(), 503u) << refused.body();
  EXPECT_EQ(refused["Retry-After"], "1");
  EXPECT_TRUE(fourth.closed_within(std::chrono::seconds(5)));
  open.pop_back(); // closing one makes room
  EXPECT_TRUE(new_connection_served(g.gateway->port()));

  auto all = base_config();
  all["max_connections"] = 2;
  GatewayUnderTest h(all);
  h.start();
  RawConnection a(h.gateway->port()), b(h.gateway->port());
  ASSERT_EQ(healthz(a), 200u);
  ASSERT_EQ(healthz(b), 200u);
  RawConnection c(h.gateway->port());
  c.set_read_timeout(std::chrono::seconds(10));
  EXPECT_EQ(c.read().result_int(), 503u);
}

size_t open_descriptors(pid_t pid) {
  size_t n = 0;
  if (DIR *dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (readdir(dir))
      ++n;
    closedir(dir);
  }
  return n > 2 ? n - 2 : 0; // . and ..
}

// Nanoseconds the process's threads spent running or runnable (waiting for a CPU): a thread
// that spins is runnable all the time however loaded the machine is, one that sleeps is not.
uint64_t runnable_ns(pid_t pid) {
  uint64_t total = 0;
  std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  if (DIR *dir = opendir(tasks.c_str())) {
    while (auto *entry = readdir(dir)) {
      if (entry->d_name[0] == '.')
        continue;
      std::ifstream in(tasks + "/" + entry->d_name + "/schedstat");
      uint64_t running = 0, waiting = 0;
      in >> running >> waiting;
      total += running + waiting;
    }
    closedir(dir);
  }
  return total;
}

TEST(GatewayLimits, OutOfDescriptorsTheListenerBacksOffAndServesWhatItHas) {
  int port_pipe[2], control[2];
  ASSERT_EQ(pipe(port_pipe), 0);
  ASSERT_EQ(pipe(control), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The gateway with 64 descriptors (the issue used ulimit -n 128 and 200 idle connections).
    ::close(port_pipe[0]);
    ::close(control[1]);
    rlimit limit{64, 64};
    setrlimit(RLIMIT_NOFILE, &limit);
    auto config = base_config();
    config["idle_timeout_ms"] = 120'000;
    GatewayUnderTest g(config);
    g.start();
    uint16_t port = g.gateway->port();
    if (write(port_pipe[1], &port, sizeof port) != sizeof port)
      _exit(2);
    char ignored;
    while (read(control[0], &ignored, 1) > 0) { // until the parent closes its end
    }
    _exit(0);
  }
  ::close(port_pipe[1]);
  ::close(control[0]);
  uint16_t port = 0;
  ASSERT_EQ(read(port_pipe[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
  auto stop_child = [&] {
    ::close(control[1]);
    int status = 0;
    waitpid(child, &status, 0);
  };

  RawConnection kept(port);
  ASSERT_EQ(healthz(kept), 200u);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 100; ++i) // the kernel completes these from the backlog
    idle.push_back(std::make_unique<RawConnection>(port));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (open_descriptors(child) < 64 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // polling a condition
  EXPECT_GE(open_descriptors(child), 63u);

  // Before: the accept loop retried EMFILE at once, runnable 100% of the time.
  uint64_t before = runnable_ns(child);
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(1)); // the window measured, not a synchronisation
  double wall_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  double share = (runnable_ns(child) - before) / wall_ns;
  EXPECT_LT(share, 0.5) << "the gateway was runnable " << share * 100 << "% of the time";

  kept.set_read_timeout(std::chrono::seconds(10));
  EXPECT_EQ(healthz(kept), 200u); // the connection it has is still served
  idle.clear();                   // descriptors come back: new connections are served again
  EXPECT_TRUE(new_connection_served(port));
  stop_child();
}

} // namespace
} // namespace th::gateway::testing
