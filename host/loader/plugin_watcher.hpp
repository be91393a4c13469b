// Watches plugin directories with inotify and reports finished *.so files: a file counts once
// it is closed after writing (a plain `cp`) or renamed into the directory (the atomic
// convention: write elsewhere, then `mv`). Half-written files are never reported.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace th {

class PluginWatcher {
public:
  enum class Change { ready, removed };
  using Callback = std::function<void(Change, const std::filesystem::path &)>;

  // Throws std::runtime_error naming the directory when it cannot be watched.
  PluginWatcher(const std::vector<std::string> &dirs, Callback callback);
  ~PluginWatcher(); // stops the thread

  PluginWatcher(const PluginWatcher &) = delete;
  PluginWatcher &operator=(const PluginWatcher &) = delete;

private:
  void loop();
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::map<int, std::filesystem::path> dirs_; // watch descriptor -> directory
  Callback callback_;
  std::thread thread_;
};

} // namespace th
