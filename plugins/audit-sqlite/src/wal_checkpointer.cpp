#include "wal_checkpointer.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

namespace th::audit {
namespace {

// Past this many thresholds the writer stops waiting for the thread and checkpoints itself.
constexpr int writer_fallback_factor = 4;
constexpr int background_nice = 10;

const char *synchronous_pragma(Synchronous s) {
  switch (s) {
  case Synchronous::off:
    return "PRAGMA synchronous = OFF";
  case Synchronous::full:
    return "PRAGMA synchronous = FULL";
  case Synchronous::normal:
    break;
  }
  return "PRAGMA synchronous = NORMAL";
}

} // namespace

WalCheckpointer::WalCheckpointer(Database &writer, Synchronous synchronous, int threshold_pages,
                                 std::function<void(const std::string &)> report)
    : writer_(writer), own_(std::make_unique<Database>(writer.path(), Database::Mode::read_write_create)),
      threshold_(threshold_pages < 1 ? 1 : threshold_pages), report_(std::move(report)) {
  own_->exec(synchronous_pragma(synchronous)); // the checkpoint's syncs follow this connection's setting
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "audit-ckpt");
    // Nobody waits for a checkpoint: let the host's latency-sensitive threads go first on a busy
    // machine (Linux applies nice per thread). Failure only means the default priority.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), background_nice);
    run();
  });
  // Replaces SQLite's auto-checkpoint on the writer's connection.
  sqlite3_wal_hook(writer_.handle(), &WalCheckpointer::on_commit, this);
}

WalCheckpointer::~WalCheckpointer() {
  sqlite3_wal_hook(writer_.handle(), nullptr, nullptr);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_one();
  thread_.join();
  own_.reset(); // the writer's connection, closed last, checkpoints what is left as before
}

uint64_t WalCheckpointer::checkpoints() const {
  std::lock_guard lock(mutex_);
  return done_;
}

int WalCheckpointer::on_commit(void *self, sqlite3 *db, const char *schema, int wal_pages) {
  auto &c = *static_cast<WalCheckpointer *>(self);
  if (wal_pages >= c.threshold_ * writer_fallback_factor) {
    // The thread is behind: checkpoint here, between two transactions, like auto-checkpoint.
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  if (wal_pages >= c.threshold_) {
    {
      std::lock_guard lock(c.mutex_);
      if (c.due_)
        return SQLITE_OK;
      c.due_ = true;
    }
    c.wanted_.notify_one();
  }
  return SQLITE_OK;
}

void WalCheckpointer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wanted_.wait(lock, [&] { return due_ || stopping_; });
    if (stopping_)
      return;
    lock.unlock();
    int rc = sqlite3_wal_checkpoint_v2(own_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    // BUSY: another checkpoint (the writer's fallback) is running; the next commit asks again.
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && report_)
      report_("audit-sqlite: WAL checkpoint of " + own_->path() +
              " failed: " + sqlite3_errmsg(own_->handle()));
    lock.lock();
    due_ = false; // cleared after the run: commits during it do not queue another one at once
    ++done_;
  }
}

} // namespace th::audit
