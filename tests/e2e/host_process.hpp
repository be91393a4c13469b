// A real `tradehost run -c configs/dev.yaml` in its own temporary data directory, on an
// ephemeral loopback port, with its log captured; plus helpers to replay, export and verify.
#pragma once

#include "../support/child_process.hpp"
#include "gateway/webhook_client.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace th::test {

std::string make_temp_dir(const std::string &prefix);

struct HostOptions {
  std::string config = std::string(TRADEHOST_SOURCE_DIR) + "/configs/dev.yaml";
  std::string plugin_dir = TRADEHOST_PLUGIN_BUILD_DIR;
  std::map<std::string, std::string> env; // added to the defaults below
  std::vector<std::string> args;          // after `run -c CONFIG`, e.g. {"--role", "agent"}
};

class HostProcess {
public:
  static constexpr const char *secret = "e2e-webhook-secret";
  static constexpr const char *admin_token = "e2e-admin-token";

  explicit HostProcess(HostOptions options = {});
  ~HostProcess();

  // Starts `tradehost run` and waits for its "started" log line (this run's: the log is appended
  // to across restarts). Throws with the log on failure.
  void start();
  // SIGTERM and wait; returns the exit code.
  int terminate();
  // SIGKILL and wait (a crash); start() again restarts on the same data directory.
  int kill();
  // Sends a signal (e.g. SIGHUP: reload) without waiting.
  void signal(int sig);
  bool running() const { return process_ && process_->running(); }

  std::string url(const std::string &path) const;
  gateway::ClientResponse post_webhook(const std::string &body, const std::string &source = "test");
  gateway::ClientResponse get(const std::string &path);

  // Runs the tradehost binary with args in this host's environment; returns (exit code, output).
  std::pair<int, std::string> tradehost(const std::string &args) const;

  std::string log() const { return process_ ? process_->output() : ""; }
  const std::string &data_dir() const { return data_dir_; }
  std::string audit_db() const { return data_dir_ + "/audit.db"; }
  std::map<std::string, std::string> env() const { return env_; }
  uint16_t port() const { return port_; }

private:
  HostOptions options_;
  std::string root_, data_dir_, log_file_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<ChildProcess> process_;
  uint16_t port_ = 0;
};

} // namespace th::test
