#include "pipeline/trading_state.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

namespace th {
namespace {

std::string errno_text(const std::string &what) {
  return what + ": " + std::strerror(errno);
}

// Writes `text` to path.tmp, fsyncs it, renames it over `path` and fsyncs the directory.
// Returns "" or the reason.
std::string write_atomically(const std::string &path, const std::string &text) {
  std::string tmp = path + ".tmp";
  auto dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty())
    std::filesystem::create_directories(dir, ec); // a failure shows in open() below
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno_text("cannot create " + tmp);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      std::string why = errno_text("cannot write " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return why;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::string why = errno_text("cannot fsync " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return why;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text("cannot rename " + tmp + " to " + path);
    ::unlink(tmp.c_str());
    return why;
  }
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return "";
}

std::string now_text() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

} // namespace

std::string_view trading_state_name(int32_t state) {
  switch (state) {
  case TH_TRADING_ACTIVE:
    return "active";
  case TH_TRADING_REDUCING:
    return "reducing";
  case TH_TRADING_HALTED:
    return "halted";
  default:
    return "";
  }
}

std::optional<int32_t> trading_state_from_name(std::string_view name) {
  for (int32_t s : {TH_TRADING_ACTIVE, TH_TRADING_REDUCING, TH_TRADING_HALTED})
    if (trading_state_name(s) == name)
      return s;
  return std::nullopt;
}

void TradingState::open(const std::string &path) {
  path_ = path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    state_ = TH_TRADING_ACTIVE;
    return;
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof())
    throw std::runtime_error("trading state " + path + ": cannot read it");
  auto doc = nlohmann::json::parse(ss.str(), nullptr, false);
  std::optional<int32_t> state;
  if (doc.is_object() && doc.contains("state") && doc["state"].is_string())
    state = trading_state_from_name(doc["state"].get<std::string>());
  if (!state)
    throw std::runtime_error("trading state " + path +
                             ": not a trading state file ({\"state\":\"active|reducing|halted\"}); fix or "
                             "remove it");
  state_ = *state;
}

TradingState::Change TradingState::set(int32_t state, const std::string &by, const std::string &reason) {
  std::lock_guard lock(mutex_);
  Change c;
  c.previous = get();
  c.now = c.previous;
  if (trading_state_name(state).empty()) {
    c.error = "unknown trading state " + std::to_string(state);
    return c;
  }
  if (!path_.empty()) {
    nlohmann::json doc = {
        {"state", trading_state_name(state)}, {"changed_at", now_text()}, {"by", by}, {"reason", reason}};
    if (std::string error = write_atomically(path_, doc.dump() + "\n"); !error.empty()) {
      c.error = "trading state not stored, so not changed: " + error;
      return c;
    }
  }
  state_.store(state, std::memory_order_release);
  c.ok = true;
  c.now = state;
  for (auto &l : listeners_)
    l(c.previous, c.now, by, reason);
  return c;
}

void TradingState::on_change(Listener listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(listener));
}

} // namespace th
