// A KeyValue (key_value.hpp) in one append-only file, for the embedded deployment's order store
// (issue 13 finding 15): each write appends one JSON line {"k":key,"v":value} (a deletion
// {"k":key,"d":true}) with a single write(2), so what a write returned is in the page cache and
// survives kill -9 (fsync: also a power loss). The file is read back whole when opened; the last
// line of a key wins; a torn last line is ignored. Records do not expire.
#pragma once

#include "bus/key_value.hpp"

#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace th {

class FileKeyValue final : public KeyValue {
public:
  // Throws std::runtime_error when the file cannot be opened or created.
  FileKeyValue(std::filesystem::path path, bool fsync);
  ~FileKeyValue() override;

  Result create(const std::string &key, const std::string &value, std::string &existing,
                uint64_t &revision) override;
  Result get(const std::string &key, std::string &value, uint64_t &revision) override;
  Result update(const std::string &key, const std::string &value, uint64_t &revision) override;
  Result put(const std::string &key, const std::string &value) override;
  Result erase(const std::string &key) override;

  // Forgets everything (truncates the file): once nothing can be delivered again.
  void clear();
  // Keeps only the records whose key `keep` accepts, rewriting the file (a new file renamed over
  // the old one, so a crash leaves one or the other). Returns how many were dropped.
  size_t retain(const std::function<bool(const std::string &key)> &keep);
  size_t size() const;

private:
  struct Record {
    std::string value;
    uint64_t revision = 0;
  };
  bool append(const std::string &line);
  Result write(const std::string &key, const std::string &value, uint64_t &revision);

  std::filesystem::path path_;
  bool fsync_;
  int fd_ = -1;
  uint64_t next_revision_ = 1;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Record> values_;
};

} // namespace th
