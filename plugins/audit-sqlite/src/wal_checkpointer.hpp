// Takes SQLite's WAL checkpoints (copying committed pages from the -wal file into the database
// and syncing both) off the writer thread. With SQLite's default auto-checkpoint the writer does
// that work itself every 1000 pages, and while it does, nothing is appended and the host's audit
// queue backs up. Here the writer's commits only note how long the WAL is; once it holds
// `threshold_pages`, a thread with its own connection runs a PASSIVE checkpoint, which never
// blocks the writer. Should that thread fall behind (the WAL reaching 4x the threshold), the
// writer checkpoints between two of its transactions as before, so the WAL stays bounded.
//
// Durability is unchanged: commits go to the WAL exactly as before; a checkpoint syncs the WAL
// before copying and the database after, under the same `synchronous` setting.
#pragma once

#include <audit_chain/appender.hpp>
#include <audit_chain/sqlite.hpp>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace th::audit {

class WalCheckpointer {
public:
  // Hooks into `writer` (the appender's connection; it must outlive this object) and starts the
  // thread. `report` is called (from the thread) with a checkpoint failure; the next one retries.
  WalCheckpointer(Database &writer, Synchronous synchronous, int threshold_pages,
                  std::function<void(const std::string &)> report);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer &) = delete;
  WalCheckpointer &operator=(const WalCheckpointer &) = delete;

  // Background checkpoints run so far (for tests).
  uint64_t checkpoints() const;

private:
  static int on_commit(void *self, sqlite3 *db, const char *schema, int wal_pages);
  void run();

  Database &writer_;
  std::unique_ptr<Database> own_;
  const int threshold_;
  std::function<void(const std::string &)> report_;
  mutable std::mutex mutex_;
  std::condition_variable wanted_;
  bool due_ = false;
  bool stopping_ = false;
  uint64_t done_ = 0;
  std::thread thread_;
};

} // namespace th::audit
