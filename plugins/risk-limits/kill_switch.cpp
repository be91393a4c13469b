#include "kill_switch.hpp"

#include <cerrno>
#include <sys/stat.h>

namespace risk_limits {

bool KillSwitch::engaged() {
  const auto now = std::chrono::steady_clock::now();
  // While engaged every order is rejected anyway, so re-check each time: a release takes effect
  // at the next order. While released, the interval bounds the stat() calls on the hot path.
  just_checked_ = !checked_once_ || engaged_ || now - last_check_ >= interval_;
  if (!just_checked_)
    return engaged_;
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0) {
    engaged_ = true;
    check_error_ = 0;
  } else {
    check_error_ = errno;
    engaged_ = !(check_error_ == ENOENT || check_error_ == ENOTDIR);
  }
  last_check_ = now;
  checked_once_ = true;
  return engaged_;
}

} // namespace risk_limits
