#include "bus/inbox.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace th {
namespace {

constexpr const char *extension = ".inbox";

std::string errno_text() {
  return std::strerror(errno);
}

// So that a segment's name survives power loss along with its content.
void sync_directory(const std::filesystem::path &dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return;
  ::fsync(fd);
  ::close(fd);
}

} // namespace

Inbox::Inbox(InboxOptions options) : options_(std::move(options)) {
  std::error_code ec;
  std::filesystem::create_directories(options_.directory, ec);
  if (ec)
    throw std::runtime_error("inbox: cannot create directory '" + options_.directory.string() +
                             "': " + ec.message());
  std::vector<std::filesystem::path> found;
  for (const auto &e : std::filesystem::directory_iterator(options_.directory, ec))
    if (e.is_regular_file() && e.path().extension() == extension)
      found.push_back(e.path());
  if (ec)
    throw std::runtime_error("inbox: cannot list '" + options_.directory.string() + "': " + ec.message());
  std::sort(found.begin(), found.end()); // names start with the creation time
  for (auto &path : found) {
    Segment s{next_segment_++, path, 0, 0, true};
    segments_.emplace(s.id, s);
    adopted_.push_back(s);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  char prefix[48];
  std::snprintf(prefix, sizeof prefix, "%013lld-%d", static_cast<long long>(ms),
                static_cast<int>(::getpid()));
  run_prefix_ = prefix;
  std::lock_guard lock(mutex_);
  open_segment_locked();
}

Inbox::~Inbox() {
  if (fd_ >= 0)
    ::close(fd_);
  // A current segment that never got a line leaves no file behind.
  std::lock_guard lock(mutex_);
  if (!segments_.empty() && !std::prev(segments_.end())->second.sealed &&
      std::prev(segments_.end())->second.last_seq == 0) {
    std::error_code ec;
    std::filesystem::remove(std::prev(segments_.end())->second.path, ec);
  }
}

void Inbox::open_segment_locked() {
  char name[80];
  std::snprintf(name, sizeof name, "%s-%06llu%s", run_prefix_.c_str(),
                static_cast<unsigned long long>(next_segment_), extension);
  auto path = options_.directory / name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0)
    throw std::runtime_error("inbox: cannot open '" + path.string() + "': " + errno_text());
  if (options_.fsync)
    sync_directory(options_.directory);
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = fd;
  written_bytes_ = 0;
  Segment s{next_segment_++, path, 0, 0, false};
  segments_.emplace(s.id, s);
}

void Inbox::write_all(int fd, const std::string &bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      throw std::runtime_error("inbox: write failed: " + errno_text());
    done += static_cast<size_t>(n);
  }
  if (options_.fsync && ::fdatasync(fd) != 0)
    throw std::runtime_error("inbox: fdatasync failed: " + errno_text());
}

Inbox::Ticket Inbox::append(std::string_view line) {
  std::unique_lock lock(mutex_);
  if (!error_.empty())
    throw std::runtime_error(error_);
  Ticket ticket{next_seq_++, std::prev(segments_.end())->first};
  Segment &segment = std::prev(segments_.end())->second;
  segment.last_seq = ticket.seq;
  ++segment.unresolved;
  pending_.append(line).push_back('\n');
  // Group commit: whoever finds no write running writes everything pending, its own line and
  // those of the requests that arrived meanwhile; the others wait for it.
  while (written_seq_ < ticket.seq) {
    if (!error_.empty())
      throw std::runtime_error(error_);
    if (flushing_) {
      written_cv_.wait(lock);
      continue;
    }
    flushing_ = true;
    writing_.swap(pending_);
    pending_.clear();
    const uint64_t upto = next_seq_ - 1;
    const int fd = fd_;
    lock.unlock();
    std::string failure;
    try {
      write_all(fd, writing_);
    } catch (const std::exception &e) {
      failure = e.what();
    }
    lock.lock();
    flushing_ = false;
    if (failure.empty()) {
      written_seq_ = upto;
      written_bytes_ += static_cast<off_t>(writing_.size());
    } else {
      error_ = failure;
      // Whole lines of this batch may be in the file, yet every request of it is answered 503:
      // cut them off, so the recovery at start never publishes a signal that was refused.
      if (::ftruncate(fd, written_bytes_) != 0)
        error_ += "; and the partial write could not be cut off: " + errno_text();
    }
    written_cv_.notify_all();
  }
  return ticket;
}

void Inbox::resolve(const Ticket &ticket) {
  std::lock_guard lock(mutex_);
  if (auto it = segments_.find(ticket.segment); it != segments_.end() && it->second.unresolved > 0)
    --it->second.unresolved;
}

void Inbox::seal_current() {
  std::unique_lock lock(mutex_);
  written_cv_.wait(lock, [&] { return !flushing_; });
  Segment &current = std::prev(segments_.end())->second;
  if (current.last_seq == 0 || !error_.empty())
    return; // nothing in it (or writes failed: keep what is there for the next start)
  if (!pending_.empty()) {
    // Lines appended since the last write belong to this segment: written here, under the lock
    // (once per seal), so no line reaches a segment other than its ticket's.
    try {
      write_all(fd_, pending_);
    } catch (const std::exception &e) {
      error_ = e.what();
      if (::ftruncate(fd_, written_bytes_) != 0) // as in append(): no refused line stays
        error_ += "; and the partial write could not be cut off: " + errno_text();
      written_cv_.notify_all();
      return;
    }
    written_bytes_ += static_cast<off_t>(pending_.size());
    pending_.clear();
    written_seq_ = next_seq_ - 1;
    written_cv_.notify_all();
  }
  current.sealed = true;
  open_segment_locked();
}

std::string Inbox::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

std::vector<Inbox::Segment> Inbox::segments() const {
  std::lock_guard lock(mutex_);
  std::vector<Segment> all;
  all.reserve(segments_.size());
  for (auto &[id, s] : segments_)
    all.push_back(s);
  return all;
}

void Inbox::retire(uint64_t segment) {
  std::filesystem::path path;
  {
    std::lock_guard lock(mutex_);
    auto it = segments_.find(segment);
    if (it == segments_.end() || !it->second.sealed)
      return;
    path = it->second.path;
    segments_.erase(it);
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (options_.fsync)
    sync_directory(options_.directory);
}

uint64_t Inbox::next_seq() const {
  std::lock_guard lock(mutex_);
  return next_seq_;
}

std::vector<InboxLine> Inbox::read_segment(const std::filesystem::path &path) {
  std::vector<InboxLine> lines;
  std::ifstream in(path, std::ios::binary);
  std::string text;
  while (std::getline(in, text)) {
    if (in.eof())
      break; // no '\n': the line was being written when the process died (never answered 200)
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object())
      continue;
    InboxLine line;
    if (auto c = j.find("c"); c != j.end() && c->is_string()) {
      line.cancels = c->get<std::string>();
    } else if (auto s = j.find("s"); s != j.end() && s->is_object()) {
      line.msg_id = j.value("m", std::string());
      line.signal = s->dump();
    } else {
      continue;
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

} // namespace th
