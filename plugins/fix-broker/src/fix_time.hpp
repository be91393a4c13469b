// FIX UTCTimestamp text ("YYYYMMDD-HH:MM:SS.sss") to and from ns since the epoch. Shared by the
// plugin's session and the venue (both C++14).
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

namespace fix_broker {

inline std::string fix_timestamp(int64_t ns) {
  if (ns < 0)
    ns = 0;
  std::time_t seconds = static_cast<std::time_t>(ns / 1000000000);
  int millis = static_cast<int>((ns / 1000000) % 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[80]; // room for any int the compiler imagines; 21 used
  std::snprintf(text, sizeof text, "%04d%02d%02d-%02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return text;
}

// 0 when the text is not a UTCTimestamp.
inline int64_t parse_fix_timestamp(const std::string &text) {
  std::tm tm{};
  int millis = 0;
  int n = std::sscanf(text.c_str(), "%4d%2d%2d-%2d:%2d:%2d.%3d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis);
  if (n < 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000000000 + static_cast<int64_t>(millis) * 1000000;
}

} // namespace fix_broker
