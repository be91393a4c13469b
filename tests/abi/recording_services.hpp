// HostServices for tests: records what plugin instances emit (as host events, through
// assign_from, so struct-size handling is exercised), with a fixed clock.
#pragma once

#include "events/c_view.hpp"
#include "loader/host_services.hpp"

#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace th::test {

class RecordingServices : public HostServices {
public:
  static constexpr int64_t clock_ns = 1736937000000000000; // 2025-01-15T10:30:00Z

  struct Intent {
    InstanceContext from;
    OrderIntent intent;
    uint32_t struct_size = 0;
  };

  th_status emit_order_intent(const InstanceContext &context, const th_order_intent &in) override {
    Intent recorded{context, {}, in.struct_size};
    assign_from(recorded.intent, in);
    std::lock_guard lock(mutex_);
    intents_.push_back(std::move(recorded));
    return TH_OK;
  }
  void log(const InstanceContext &, int32_t, std::string_view, std::string_view message) override {
    std::lock_guard lock(mutex_);
    logs_.emplace_back(message);
  }
  int64_t now_ns() override { return clock_ns; }
  th_status metric(const InstanceContext &, int32_t, std::string_view name, const th_label *, size_t,
                   double) override {
    std::lock_guard lock(mutex_);
    metrics_.emplace_back(name);
    return TH_OK;
  }

  std::vector<Intent> intents() const {
    std::lock_guard lock(mutex_);
    return intents_;
  }
  std::vector<std::string> logs() const {
    std::lock_guard lock(mutex_);
    return logs_;
  }
  std::vector<std::string> metrics() const {
    std::lock_guard lock(mutex_);
    return metrics_;
  }

private:
  mutable std::mutex mutex_;
  std::vector<Intent> intents_;
  std::vector<std::string> logs_;
  std::vector<std::string> metrics_;
};

// A fresh directory under the system temp dir, removed with its contents at scope exit.
class TempDir {
public:
  TempDir() {
    std::random_device random;
    for (int attempt = 0; attempt < 100; ++attempt) {
      path_ = std::filesystem::temp_directory_path() / ("tradehost-test-" + std::to_string(random()));
      if (std::filesystem::create_directory(path_))
        return;
    }
    throw std::runtime_error("cannot create a temp dir");
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::filesystem::path &path() const { return path_; }

  // Copies a built plugin in (each test loads from its own path, as the ABI rules ask).
  std::filesystem::path add(const std::filesystem::path &file, const std::string &as = "") const {
    auto target = path_ / (as.empty() ? file.filename().string() : as);
    std::filesystem::copy_file(file, target, std::filesystem::copy_options::overwrite_existing);
    return target;
  }

private:
  std::filesystem::path path_;
};

} // namespace th::test
