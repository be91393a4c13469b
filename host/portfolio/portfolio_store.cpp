#include "portfolio/portfolio_store.hpp"

#include "events/json_codec.hpp"
#include "events/json_writer.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace th {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

bool read_all(int fd, std::string &out) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return false;
    if (n == 0)
      return true;
    out.append(buf, static_cast<size_t>(n));
  }
}

bool parse_line(std::string_view line, Fill &fill, Reconcile &reconcile) {
  auto doc = nlohmann::json::parse(line, nullptr, false);
  if (!doc.is_object() || !doc.contains("fill") || !doc.contains("reconcile"))
    return false;
  try {
    fill = fill_from_json(doc["fill"]);
    reconcile = reconcile_from_json(doc["reconcile"]);
  } catch (const std::exception &) {
    return false;
  }
  return !fill.fill_id.empty();
}

} // namespace

std::unique_ptr<PortfolioStore>
PortfolioStore::open(const std::string &path, bool fsync,
                     const std::function<void(const Fill &, const Reconcile &, uint64_t)> &replay,
                     Loaded &loaded) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty())
    std::filesystem::create_directories(dir, ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("portfolio record " + path + ": cannot open: " + errno_text());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::string why =
        errno == EWOULDBLOCK ? "locked by another tradehost process on this data directory" : errno_text();
    ::close(fd);
    throw std::runtime_error("portfolio record " + path + ": " + why);
  }
  std::string text;
  if (!read_all(fd, text)) {
    std::string why = errno_text();
    ::close(fd);
    throw std::runtime_error("portfolio record " + path + ": cannot read: " + why);
  }
  loaded = {};
  size_t pos = 0;
  uint64_t line_no = 0;
  Fill fill;
  Reconcile reconcile;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    ++line_no;
    if (end == std::string::npos)
      break; // torn: the process died inside write()
    std::string_view line(text.data() + pos, end - pos);
    if (!parse_line(line, fill, reconcile)) {
      if (end + 1 == text.size()) // a last line that is complete but garbled: also torn
        break;
      ::close(fd);
      throw std::runtime_error("portfolio record " + path + ":" + std::to_string(line_no) +
                               ": not a stored fill (the file is damaged; see docs/guarantees.md)");
    }
    replay(fill, reconcile, pos);
    ++loaded.fills;
    pos = end + 1;
  }
  if (pos < text.size()) {
    loaded.torn_bytes = text.size() - pos;
    if (::ftruncate(fd, static_cast<off_t>(pos)) != 0) {
      std::string why = errno_text();
      ::close(fd);
      throw std::runtime_error("portfolio record " + path + ": cannot cut off a torn last line: " + why);
    }
  }
  return std::unique_ptr<PortfolioStore>(new PortfolioStore(path, fd, fsync, pos));
}

PortfolioStore::~PortfolioStore() {
  if (fd_ >= 0)
    ::close(fd_);
}

int64_t PortfolioStore::append(const Fill &fill, const Reconcile &reconcile, std::string &error) {
  // The bus's writer (json_writer.hpp), not a nlohmann tree: this runs once per fill.
  payload_ = fill;
  write_json(payload_, text_);
  line_.assign("{\"fill\":").append(text_).append(",\"reconcile\":");
  payload_ = reconcile;
  write_json(payload_, text_);
  line_.append(text_).append("}\n");
  size_t done = 0;
  while (done < line_.size()) {
    ssize_t n = ::write(fd_, line_.data() + done, line_.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error = "write " + path_ + ": " + errno_text();
      // Whatever was written is a torn line: cut it off so the next line starts clean.
      if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0)
        error += "; cannot cut off the partial line: " + errno_text();
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  int64_t offset = static_cast<int64_t>(size_);
  size_ += line_.size();
  if (fsync_ && ::fdatasync(fd_) != 0)
    error = "fdatasync " + path_ + ": " + errno_text(); // written, maybe not on the disk
  return offset;
}

bool PortfolioStore::read_reconcile(uint64_t offset, Reconcile &out) const {
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::pread(fd_, buf, sizeof buf, static_cast<off_t>(offset + text.size()));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    text.append(buf, static_cast<size_t>(n));
    if (text.find('\n') != std::string::npos)
      break;
  }
  size_t end = text.find('\n');
  if (end == std::string::npos)
    return false;
  Fill fill;
  return parse_line(std::string_view(text).substr(0, end), fill, out);
}

} // namespace th
