// The portfolio's durable record: an append-only file of applied fills, one JSON line each,
// {"fill":{...executions.fill payload...},"reconcile":{...executions.reconcile payload...}},
// written before the fill changes the books. At start the portfolio replays it, so positions,
// average prices and realized PnL (also today's, the daily loss limit) survive a restart, and
// the fill ids it holds make a redelivered fill a duplicate. See docs/guarantees.md.
//
// Lines are written with write(2) on an O_APPEND descriptor: a kill -9 keeps everything that
// was written (the page cache survives the process); `fsync` adds fdatasync per line for power
// loss. A torn last line (the process died inside write) is cut off when the file is opened.
// The file is locked (flock) by the process that owns it: a second process on the same data
// directory is refused. Not thread-safe: the portfolio calls it under its own lock.
#pragma once

#include "events/events.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace th {

class PortfolioStore {
public:
  struct Loaded {
    uint64_t fills = 0;      // complete lines replayed
    uint64_t torn_bytes = 0; // an incomplete last line cut off (0 when none)
  };
  // Opens or creates `path` (and its directory), locks it and calls `replay` for every line in
  // file order with the line's offset. Throws std::runtime_error naming the file (and line) when
  // it cannot be opened or locked, or when a line other than the last is not a stored fill.
  static std::unique_ptr<PortfolioStore>
  open(const std::string &path, bool fsync,
       const std::function<void(const Fill &, const Reconcile &, uint64_t offset)> &replay, Loaded &loaded);
  ~PortfolioStore();
  PortfolioStore(const PortfolioStore &) = delete;
  PortfolioStore &operator=(const PortfolioStore &) = delete;

  // Appends one line; returns its offset, or -1 with `error` set when it could not be written (a
  // partial write is cut off). With fsync, a failed fdatasync returns the offset and sets `error`.
  int64_t append(const Fill &fill, const Reconcile &reconcile, std::string &error);
  // The reconcile stored at `offset` (for a duplicate fill: the reconcile is published again).
  bool read_reconcile(uint64_t offset, Reconcile &out) const;
  const std::string &path() const { return path_; }

private:
  PortfolioStore(std::string path, int fd, bool fsync, uint64_t size)
      : path_(std::move(path)), fd_(fd), fsync_(fsync), size_(size) {}
  std::string path_;
  int fd_ = -1;
  bool fsync_ = false;
  uint64_t size_ = 0;       // end of the last complete line
  std::string line_, text_; // reused buffers
  Payload payload_;         // reused: its strings keep their capacity
};

} // namespace th
