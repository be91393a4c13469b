// The kill switch: engaged while a file exists at a path. While released, the file is checked
// with stat() at most once per interval of a steady clock so the order hot path stays cheap;
// while engaged, on every call, so a release is seen at once.
#pragma once

#include <chrono>
#include <string>

namespace risk_limits {

class KillSwitch {
public:
  KillSwitch(std::string path, std::chrono::milliseconds check_interval)
      : path_(std::move(path)), interval_(check_interval) {}

  // True when the file is present; re-checks when engaged or when the interval has passed.
  // A stat() error other than "no such file" counts as engaged (fail closed).
  bool engaged();

  // True when the last engaged() call actually ran stat() (for the gauge).
  bool just_checked() const { return just_checked_; }

  const std::string &path() const { return path_; }

  // errno of the last failed stat() that engaged the switch; 0 when the file was present.
  int check_error() const { return check_error_; }

private:
  std::string path_;
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_check_{};
  bool checked_once_ = false;
  bool engaged_ = false;
  bool just_checked_ = false;
  int check_error_ = 0;
};

} // namespace risk_limits
