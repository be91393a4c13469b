#include "bus/file_key_value.hpp"

#include "observability/log.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace th {

FileKeyValue::FileKeyValue(std::filesystem::path path, bool fsync) : path_(std::move(path)), fsync_(fsync) {
  std::error_code ec;
  if (path_.has_parent_path())
    std::filesystem::create_directories(path_.parent_path(), ec);
  {
    std::ifstream in(path_);
    size_t torn = 0;
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("k") || !j["k"].is_string()) {
        ++torn; // a line cut by a crash mid-write: its write never returned
        continue;
      }
      const std::string key = j["k"].get<std::string>();
      if (j.value("d", false)) {
        values_.erase(key);
      } else if (j.contains("v") && j["v"].is_string()) {
        values_[key] = {j["v"].get<std::string>(), next_revision_++};
      } else {
        ++torn;
      }
    }
    if (torn)
      log::warn("order_store_lines_skipped", {{"file", path_.string()}, {"lines", torn}});
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw std::runtime_error("cannot open " + path_.string() + ": " + std::strerror(errno));
  // A torn last line without its newline would swallow the next one: end it.
  if (auto size = std::filesystem::file_size(path_, ec); !ec && size > 0) {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(size) - 1);
    if (in.get() != '\n' && ::write(fd_, "\n", 1) != 1)
      throw std::runtime_error("cannot write " + path_.string() + ": " + std::strerror(errno));
  }
}

FileKeyValue::~FileKeyValue() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool FileKeyValue::append(const std::string &text) {
  std::string line = text + '\n';
  ssize_t written = ::write(fd_, line.data(), line.size());
  if (written != static_cast<ssize_t>(line.size())) {
    log::error("order_store_write_failed",
               {{"file", path_.string()}, {"reason", written < 0 ? std::strerror(errno) : "short write"}});
    return false;
  }
  if (fsync_ && ::fdatasync(fd_) != 0) {
    log::error("order_store_write_failed", {{"file", path_.string()}, {"reason", std::strerror(errno)}});
    return false;
  }
  return true;
}

KeyValue::Result FileKeyValue::write(const std::string &key, const std::string &value, uint64_t &revision) {
  if (!append(nlohmann::json{{"k", key}, {"v", value}}.dump()))
    return Result::unavailable;
  revision = next_revision_++;
  values_[key] = {value, revision};
  return Result::ok;
}

KeyValue::Result FileKeyValue::create(const std::string &key, const std::string &value, std::string &existing,
                                      uint64_t &revision) {
  std::lock_guard lock(mutex_);
  if (auto it = values_.find(key); it != values_.end()) {
    existing = it->second.value;
    revision = it->second.revision;
    return Result::exists;
  }
  return write(key, value, revision);
}

KeyValue::Result FileKeyValue::get(const std::string &key, std::string &value, uint64_t &revision) {
  std::lock_guard lock(mutex_);
  auto it = values_.find(key);
  if (it == values_.end())
    return Result::missing;
  value = it->second.value;
  revision = it->second.revision;
  return Result::ok;
}

KeyValue::Result FileKeyValue::update(const std::string &key, const std::string &value, uint64_t &revision) {
  std::lock_guard lock(mutex_);
  auto it = values_.find(key);
  if (it == values_.end())
    return Result::missing;
  if (it->second.revision != revision)
    return Result::conflict;
  return write(key, value, revision);
}

KeyValue::Result FileKeyValue::put(const std::string &key, const std::string &value) {
  std::lock_guard lock(mutex_);
  uint64_t revision = 0;
  return write(key, value, revision);
}

KeyValue::Result FileKeyValue::erase(const std::string &key) {
  std::lock_guard lock(mutex_);
  if (!append(nlohmann::json{{"k", key}, {"d", true}}.dump()))
    return Result::unavailable;
  values_.erase(key);
  return Result::ok;
}

void FileKeyValue::clear() {
  std::lock_guard lock(mutex_);
  values_.clear();
  if (::ftruncate(fd_, 0) != 0)
    log::warn("order_store_not_cleared", {{"file", path_.string()}, {"reason", std::strerror(errno)}});
}

size_t FileKeyValue::retain(const std::function<bool(const std::string &key)> &keep) {
  std::lock_guard lock(mutex_);
  std::string text;
  size_t dropped = 0;
  for (auto it = values_.begin(); it != values_.end();) {
    if (keep(it->first)) {
      text += nlohmann::json{{"k", it->first}, {"v", it->second.value}}.dump();
      text += '\n';
      ++it;
    } else {
      it = values_.erase(it);
      ++dropped;
    }
  }
  if (dropped == 0)
    return 0;
  const std::filesystem::path temp = path_.string() + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            (!fsync_ || ::fdatasync(fd) == 0);
  if (fd >= 0)
    ::close(fd);
  if (!ok || ::rename(temp.c_str(), path_.c_str()) != 0) {
    // The old file still holds everything: only the memory forgot, which a restart undoes.
    log::warn("order_store_not_compacted", {{"file", path_.string()}, {"reason", std::strerror(errno)}});
    return dropped;
  }
  int reopened = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (reopened >= 0) {
    ::close(fd_);
    fd_ = reopened;
  }
  return dropped;
}

size_t FileKeyValue::size() const {
  std::lock_guard lock(mutex_);
  return values_.size();
}

} // namespace th
