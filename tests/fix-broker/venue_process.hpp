// A real tradehost-fix-venue process on a free loopback port, its JSON-lines log captured, and
// waits on that log (never on time).
#pragma once

#include "support/child_process.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace th::test {

// A port nothing listens on now (bound to 0 and released); the venue binds it with SO_REUSEADDR.
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class VenueProcess {
public:
  // args: the venue's options after --port.
  VenueProcess(std::string dir, std::vector<std::string> args, int port = free_port())
      : dir_(std::move(dir)), args_(std::move(args)), port_(port) {
    std::filesystem::create_directories(dir_);
    start();
  }

  void start() {
    std::vector<std::string> argv{TRADEHOST_FIX_VENUE_BIN, "--port", std::to_string(port_)};
    argv.insert(argv.end(), args_.begin(), args_.end());
    const size_t before = events("listening").size();
    process_ = std::make_unique<ChildProcess>(argv, dir_ + "/venue.log", env_);
    if (!eventually([&] { return events("listening").size() > before || !process_->running(); }) ||
        !process_->running())
      throw std::runtime_error("the venue did not start:\n" + log());
  }
  int stop() {
    process_->signal(SIGTERM);
    return process_->wait();
  }
  void kill() {
    process_->signal(SIGKILL);
    process_->wait();
  }

  int port() const { return port_; }
  std::string log() const { return process_ ? process_->output() : ""; }
  void set_env(const std::string &k, const std::string &v) { env_[k] = v; }

  // Every logged event of this type, across restarts.
  std::vector<nlohmann::json> events(const std::string &type) const {
    std::vector<nlohmann::json> out;
    std::istringstream in(log());
    for (std::string line; std::getline(in, line);)
      if (auto j = nlohmann::json::parse(line, nullptr, false); j.is_object() && j.value("event", "") == type)
        out.push_back(j);
    return out;
  }
  bool await(const std::string &type, size_t count = 1) const {
    return eventually([&] { return events(type).size() >= count; });
  }

private:
  std::string dir_;
  std::vector<std::string> args_;
  int port_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<ChildProcess> process_;
};

} // namespace th::test
