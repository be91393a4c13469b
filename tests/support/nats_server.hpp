// A real `nats-server -js` for tests: its own free loopback port and temporary store directory,
// started on construction and waited for until it answers, stoppable (SIGTERM or SIGKILL) and
// restartable on the same port and store, removed with everything on destruction.
//
//   th::test::NatsServer server;            // throws std::runtime_error when it cannot start
//   options.servers = {server.url()};
//   server.kill(); ... server.start();      // crash and recover the same server
//
// Extra command-line arguments (e.g. --cluster, --routes, --server_name) go in `extra_args`;
// cluster members share nothing but what those arguments say.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char **environ;

namespace th::test {

// A loopback TCP port that was free a moment ago (the kernel's choice for port 0).
// A free loopback port below the kernel's ephemeral range (32768-60999 by default), so that
// while a test restarts its server on the same port no other test's bind(0) and no client
// connection's source port can take it meanwhile (a flake seen under parallel ctest).
inline int free_loopback_port() {
  static std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> range(20000, 32767);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
      throw std::runtime_error("free_loopback_port: socket() failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int port = range(random);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = ::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0;
    ::close(fd);
    if (free)
      return port;
  }
  throw std::runtime_error("free_loopback_port: no free port in 20000-32767");
}

// True when something accepts TCP connections and sends the NATS INFO line on the port.
inline bool nats_answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  timeval timeout{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0) {
    char buffer[5] = {0};
    ok = ::recv(fd, buffer, 4, MSG_WAITALL) == 4 && std::string(buffer, 4) == "INFO";
  }
  ::close(fd);
  return ok;
}

class NatsServer {
public:
  struct Options {
    int port = 0;                        // 0: pick a free one
    std::string store_dir;               // empty: a new temporary directory (removed at the end)
    std::vector<std::string> extra_args; // appended to the command line
    bool start = true;                   // start in the constructor
  };

  NatsServer() : NatsServer(Options{}) {}
  explicit NatsServer(Options options) : options_(std::move(options)) {
    char pattern[] = "/tmp/th-nats-XXXXXX";
    if (!::mkdtemp(pattern))
      throw std::runtime_error("NatsServer: mkdtemp failed");
    work_dir_ = pattern;
    store_dir_ = options_.store_dir.empty() ? (work_dir_ / "store").string() : options_.store_dir;
    port_ = options_.port;
    if (options_.start)
      start();
  }
  NatsServer(const NatsServer &) = delete;
  NatsServer &operator=(const NatsServer &) = delete;
  ~NatsServer() {
    stop(SIGKILL);
    std::error_code ignored;
    std::filesystem::remove_all(work_dir_, ignored);
  }

  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  const std::string &store_dir() const { return store_dir_; }
  std::string log_file() const { return (work_dir_ / "nats-server.log").string(); }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Starts (again) on the same port and store directory; waits until it answers (10 s at most).
  void start() {
    if (pid_ > 0)
      return;
    const bool pick_port = port_ == 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (pick_port && (attempt > 0 || port_ == 0))
        port_ = free_loopback_port();
      if (spawn_and_wait())
        return;
      if (!pick_port)
        break; // a fixed port: retrying another one would change the server's identity
    }
    throw std::runtime_error("NatsServer: nats-server did not start on port " + std::to_string(port_) +
                             "; its log:\n" + read_log());
  }

  // Stops with `signal` (SIGTERM: clean shutdown; SIGKILL: a crash) and reaps the process.
  void stop(int signal = SIGTERM) {
    if (pid_ <= 0)
      return;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  void kill() { stop(SIGKILL); }

  std::string read_log() const {
    std::ifstream in(log_file());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

private:
  bool spawn_and_wait() {
    std::vector<std::string> args = {"nats-server",         "-js", "-a",       "127.0.0.1", "-p",
                                     std::to_string(port_), "-sd", store_dir_, "-l",        log_file()};
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    std::vector<char *> argv;
    argv.reserve(args.size() + 1);
    for (auto &arg : args)
      argv.push_back(arg.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_file().c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, "nats-server", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
      throw std::runtime_error("NatsServer: cannot run nats-server (is it installed?)");
    pid_ = pid;

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) { // exited: port taken, bad arguments, ...
        pid_ = -1;
        return false;
      }
      if (nats_answers(port_))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop(SIGKILL);
    return false;
  }

  Options options_;
  std::filesystem::path work_dir_;
  std::string store_dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

} // namespace th::test
