// The gateway's inbox: an append-only log of accepted signals in the data directory, written
// before the 200, so that what the gateway acknowledged is found again after kill -9 (the page
// cache survives a process crash; with `fsync` each write is also synced, for power loss).
//
// Writes are group-committed: concurrent append() calls share one write() (and one fdatasync),
// each returning once its own line is in the file. The log is cut into segments; a segment is
// retired (deleted) once everything its signals caused is in the audit trail (see
// app/acceptance.hpp). Lines are JSON: {"m":msg_id,"s":signal} for an entry, {"c":corr_id} for
// an entry whose publish failed after it was written (a 503: never republished).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace th {

struct InboxOptions {
  std::filesystem::path directory; // created if absent
  bool fsync = false;              // fdatasync each group commit (power-loss durable)
};

// One line read back from a segment.
struct InboxLine {
  std::string msg_id;  // entry: the bus message id
  std::string signal;  // entry: the signal as contract JSON
  std::string cancels; // cancel: the corr_id of the entry it cancels
};

class Inbox {
public:
  // Adopts the segments an earlier process left (sealed and resolved, retired like this process's
  // own; see adopted()), then opens a new segment. Throws std::runtime_error naming the path.
  explicit Inbox(InboxOptions options);
  ~Inbox();
  Inbox(const Inbox &) = delete;
  Inbox &operator=(const Inbox &) = delete;

  struct Ticket {
    uint64_t seq = 0;     // append order, from 1
    uint64_t segment = 0; // the segment the line went to
  };
  // Appends one line (without '\n') and returns once it is written (and synced with fsync).
  // Throws std::runtime_error when the file cannot be written.
  Ticket append(std::string_view line);
  // The request behind an append finished (published or cancelled): its segment may be sealed.
  void resolve(const Ticket &ticket);

  // Segments: sealing closes the current one (later appends go to a new one) if it has lines.
  struct Segment {
    uint64_t id = 0;
    std::filesystem::path path;
    uint64_t last_seq = 0;   // the last line appended to it
    uint64_t unresolved = 0; // appends whose request has not finished
    bool sealed = false;
  };
  void seal_current();
  std::vector<Segment> segments() const; // oldest first, the current one last
  // Why appends fail (empty: they do not). A failed write is not retried in this process: the
  // segment may end in a torn line, which only the recovery at start can tell apart.
  std::string error() const;
  void retire(uint64_t segment); // deletes a sealed segment's file
  // The next append's seq (every line appended so far has a smaller one).
  uint64_t next_seq() const;

  // The segments an earlier process left, oldest first; read them with read_segment().
  const std::vector<Segment> &adopted() const { return adopted_; }
  // Every complete line of a segment (a torn last line, from a crash mid-write, is skipped).
  static std::vector<InboxLine> read_segment(const std::filesystem::path &path);

  const InboxOptions &options() const { return options_; }

private:
  void open_segment_locked(); // under mutex_, no flush running
  void write_all(int fd, const std::string &bytes);

  InboxOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable written_cv_;
  std::string pending_; // lines waiting for the next group commit
  std::string writing_; // the batch being written (kept for its capacity)
  uint64_t next_seq_ = 1;
  uint64_t written_seq_ = 0; // every line up to this seq is in the file
  bool flushing_ = false;    // a leader is writing outside the lock
  std::string error_;        // set once a write failed: later appends fail too
  int fd_ = -1;
  off_t written_bytes_ = 0; // of the current segment: whole lines of successful writes only
  uint64_t next_segment_ = 1;
  std::map<uint64_t, Segment> segments_;
  std::vector<Segment> adopted_;
  std::string run_prefix_; // file names: <unix ms>-<pid>-<segment>.inbox, sorted by creation
};

} // namespace th
