// Runs a real program (the tradehost binary, nats-server, python3) as a child process for
// integration tests: arguments, extra environment, output captured to a file, signals, exit code.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace th::test {

class ChildProcess {
public:
  // Starts `argv[0]` with argv; stdout and stderr go to output_file (appended).
  ChildProcess(std::vector<std::string> argv, std::string output_file,
               const std::map<std::string, std::string> &env = {})
      : output_file_(std::move(output_file)) {
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int fd = ::open(output_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      ::setpgid(0, 0);
      for (auto &[k, v] : env)
        ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char *> args;
      args.reserve(argv.size() + 1);
      for (auto &a : argv)
        args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~ChildProcess() {
    if (running()) {
      signal(SIGKILL);
      wait();
    }
  }
  ChildProcess(const ChildProcess &) = delete;
  ChildProcess &operator=(const ChildProcess &) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const {
    if (pid_ > 0)
      ::kill(pid_, sig);
  }

  bool running() {
    if (exited_)
      return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      record(status);
      return false;
    }
    return true;
  }

  // Waits for exit (up to timeout); returns the exit code, 128+signal when killed, -1 on timeout.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
      if (std::chrono::steady_clock::now() > deadline)
        return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return exit_code_;
  }

  std::string output() const {
    std::ifstream in(output_file_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

private:
  void record(int status) {
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_t pid_ = -1;
  std::string output_file_;
  bool exited_ = false;
  int exit_code_ = -1;
};

// Polls condition until it holds or the timeout passes. Returns whether it held.
inline bool eventually(const std::function<bool()> &condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Runs a command to completion, returning (exit code, combined output).
inline std::pair<int, std::string> run_command(const std::string &command) {
  std::string output;
  FILE *p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p)
    return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    output.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

} // namespace th::test
