#include "host_process.hpp"

#include <chrono>
#include <cstdlib>
#include <regex>
#include <stdexcept>

namespace th::test {

std::string make_temp_dir(const std::string &prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp failed");
  return pattern;
}

HostProcess::HostProcess(HostOptions options) : options_(std::move(options)) {
  root_ = make_temp_dir("tradehost-e2e");
  data_dir_ = root_ + "/var";
  log_file_ = root_ + "/host.log";
  std::filesystem::create_directories(data_dir_);
  env_ = {{"TRADEHOST_DATA_DIR", data_dir_},
          {"TRADEHOST_LISTEN", "127.0.0.1:0"},
          {"TRADEHOST_PLUGIN_DIR", options_.plugin_dir},
          {"TRADEHOST_WEBHOOK_SECRET", secret},
          {"TRADEHOST_ADMIN_TOKEN", admin_token},
          {"TRADEHOST_LOG_LEVEL", "info"}};
  for (auto &[k, v] : options_.env)
    env_[k] = v;
  auto [code, out] = tradehost("audit keygen --out " + data_dir_ + "/audit-signing");
  if (code != 0)
    throw std::runtime_error("audit keygen failed: " + out);
}

HostProcess::~HostProcess() {
  process_.reset();
  std::error_code ec;
  if (!std::getenv("TRADEHOST_KEEP_TEST_DIRS"))
    std::filesystem::remove_all(root_, ec);
}

void HostProcess::start() {
  std::vector<std::string> argv{TRADEHOST_BIN, "run", "-c", options_.config};
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  const size_t log_offset = log().size();
  process_ = std::make_unique<ChildProcess>(argv, log_file_, env_);
  static const std::regex started(R"re("event":"started".*"port":(\d+))re");
  std::smatch m;
  port_ = 0;
  bool ok = eventually([&] {
    std::string text = process_->output().substr(log_offset);
    if (std::regex_search(text, m, started)) {
      port_ = static_cast<uint16_t>(std::stoi(m[1]));
      return true;
    }
    return !process_->running();
  });
  if (!ok || port_ == 0)
    throw std::runtime_error("tradehost did not start:\n" + process_->output());
}

int HostProcess::terminate() {
  if (!process_)
    return -1;
  process_->signal(SIGTERM);
  return process_->wait(std::chrono::seconds(60));
}

int HostProcess::kill() {
  if (!process_)
    return -1;
  process_->signal(SIGKILL);
  return process_->wait(std::chrono::seconds(60));
}

void HostProcess::signal(int sig) {
  if (process_)
    process_->signal(sig);
}

std::string HostProcess::url(const std::string &path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

gateway::ClientResponse HostProcess::post_webhook(const std::string &body, const std::string &source) {
  auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  return gateway::http_request("POST", url("/webhook/" + source), body,
                               gateway::sign_webhook(secret, body, now.count()));
}

gateway::ClientResponse HostProcess::get(const std::string &path) {
  return gateway::http_request("GET", url(path), "");
}

std::pair<int, std::string> HostProcess::tradehost(const std::string &args) const {
  std::string command;
  for (auto &[k, v] : env_)
    command += k + "='" + v + "' ";
  command += std::string(TRADEHOST_BIN) + " " + args;
  return run_command(command);
}

} // namespace th::test
