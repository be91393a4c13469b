// The plugin directory watcher (loader/plugin_watcher): a *.so counts once closed after writing
// or renamed in, never while half-written; removals and renames out are reported; other files
// are ignored; a failing callback does not stop it; an unwatchable directory is refused. Each
// test waits for the events themselves (inotify keeps them in order, so a later "sentinel" file
// proves an earlier file was not reported); nothing sleeps.
#include "loader/plugin_watcher.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>

namespace th {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tradehost-watch-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
      throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path path;
};

// What the watcher reported, in order; next() waits for the next report.
class Reports {
public:
  PluginWatcher::Callback callback() {
    return [this](PluginWatcher::Change change, const fs::path &file) {
      std::lock_guard lock(mutex_);
      reports_.push_back((change == PluginWatcher::Change::ready ? "ready " : "removed ") + file.string());
      cv_.notify_all();
    };
  }
  // The next report; "" if none comes at all (a generous bound, so a failure does not hang).
  std::string next() {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return !reports_.empty(); }))
      return "";
    std::string report = reports_.front();
    reports_.pop_front();
    return report;
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> reports_;
};

void write_file(const fs::path &path, const std::string &content = "ELF") {
  std::ofstream(path) << content;
}

TEST(PluginWatcher, AFileCountsOnceClosedNotWhileItIsWritten) {
  TempDir dir;
  Reports reports;
  PluginWatcher watcher({dir.path.string()}, reports.callback());
  {
    std::ofstream half(dir.path / "strategy.so");
    half << "first half";
    half.flush(); // written, still open: not finished
    write_file(dir.path / "sentinel.so");
    EXPECT_EQ(reports.next(), "ready " + (dir.path / "sentinel.so").string());
    half << "second half";
  } // closed now
  EXPECT_EQ(reports.next(), "ready " + (dir.path / "strategy.so").string());
}

TEST(PluginWatcher, AFileRenamedInCountsAndOneRenamedOutIsRemoved) {
  TempDir dir, elsewhere;
  Reports reports;
  PluginWatcher watcher({dir.path.string()}, reports.callback());
  write_file(elsewhere.path / "exec.so.tmp");
  fs::rename(elsewhere.path / "exec.so.tmp", dir.path / "exec.so"); // the atomic convention
  EXPECT_EQ(reports.next(), "ready " + (dir.path / "exec.so").string());
  fs::rename(dir.path / "exec.so", elsewhere.path / "exec.so");
  EXPECT_EQ(reports.next(), "removed " + (dir.path / "exec.so").string());
}

TEST(PluginWatcher, ADeletedFileIsRemoved) {
  TempDir dir;
  write_file(dir.path / "risk.so"); // there before the watcher: not reported
  Reports reports;
  PluginWatcher watcher({dir.path.string()}, reports.callback());
  fs::remove(dir.path / "risk.so");
  EXPECT_EQ(reports.next(), "removed " + (dir.path / "risk.so").string());
}

TEST(PluginWatcher, FilesThatAreNotSharedLibrariesAreIgnored) {
  TempDir dir;
  Reports reports;
  PluginWatcher watcher({dir.path.string()}, reports.callback());
  write_file(dir.path / "README.txt");
  write_file(dir.path / "plugin.so.tmp");
  fs::remove(dir.path / "README.txt");
  write_file(dir.path / "sentinel.so");
  EXPECT_EQ(reports.next(), "ready " + (dir.path / "sentinel.so").string());
}

TEST(PluginWatcher, EveryDirectoryIsWatchedAndNamedInItsReports) {
  TempDir first, second;
  Reports reports;
  PluginWatcher watcher({first.path.string(), second.path.string()}, reports.callback());
  write_file(second.path / "b.so");
  EXPECT_EQ(reports.next(), "ready " + (second.path / "b.so").string());
  write_file(first.path / "a.so");
  EXPECT_EQ(reports.next(), "ready " + (first.path / "a.so").string());
}

TEST(PluginWatcher, ACallbackThatThrowsDoesNotStopTheWatcher) {
  TempDir dir;
  Reports reports;
  auto record = reports.callback();
  PluginWatcher watcher({dir.path.string()}, [&](PluginWatcher::Change change, const fs::path &file) {
    record(change, file);
    if (file.filename() == "bad.so")
      throw std::runtime_error("cannot load it");
  });
  write_file(dir.path / "bad.so");
  EXPECT_EQ(reports.next(), "ready " + (dir.path / "bad.so").string());
  write_file(dir.path / "good.so");
  EXPECT_EQ(reports.next(), "ready " + (dir.path / "good.so").string());
}

TEST(PluginWatcher, AnUnwatchableDirectoryIsRefusedByName) {
  TempDir dir;
  const std::string missing = (dir.path / "no-such-dir").string();
  try {
    PluginWatcher watcher({dir.path.string(), missing}, [](PluginWatcher::Change, const fs::path &) {});
    FAIL() << "watching a missing directory succeeded";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("cannot watch plugin directory " + missing), std::string::npos)
        << e.what();
  }
}

} // namespace
} // namespace th
