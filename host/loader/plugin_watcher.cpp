#include "loader/plugin_watcher.hpp"

#include "observability/log.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace th {

PluginWatcher::PluginWatcher(const std::vector<std::string> &dirs, Callback callback)
    : callback_(std::move(callback)) {
  inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (inotify_fd_ < 0 || stop_fd_ < 0)
    throw std::runtime_error(std::string("inotify: ") + std::strerror(errno));
  for (const auto &d : dirs) {
    int wd =
        ::inotify_add_watch(inotify_fd_, d.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
    if (wd < 0) {
      std::string why = std::strerror(errno);
      ::close(inotify_fd_);
      ::close(stop_fd_);
      throw std::runtime_error("cannot watch plugin directory " + d + ": " + why);
    }
    dirs_[wd] = d;
  }
  thread_ = std::thread([this] { loop(); });
}

PluginWatcher::~PluginWatcher() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof one);
  if (thread_.joinable())
    thread_.join();
  ::close(inotify_fd_);
  ::close(stop_fd_);
}

void PluginWatcher::loop() {
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      log::error("plugin_watch_failed", {{"reason", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents)
      return;
    ssize_t len = ::read(inotify_fd_, buffer, sizeof buffer);
    if (len <= 0)
      continue;
    for (char *p = buffer; p < buffer + len;) {
      auto *ev = reinterpret_cast<inotify_event *>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->len == 0)
        continue;
      std::filesystem::path file = dirs_[ev->wd] / ev->name;
      if (file.extension() != ".so")
        continue;
      Change change = (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) ? Change::ready : Change::removed;
      try {
        callback_(change, file);
      } catch (const std::exception &e) {
        log::error("plugin_watch_callback_failed", {{"file", file.string()}, {"reason", e.what()}});
      }
    }
  }
}

} // namespace th
