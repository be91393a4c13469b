#include "audit_chain/timestamp.hpp"

#include <cstdio>

namespace th::audit {
namespace {

// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's civil_from_days).
void civil_from_days(int64_t z, int64_t &y, unsigned &m, unsigned &d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

} // namespace

void append_rfc3339_ms(int64_t ns, std::string &out) {
  int64_t ms = floor_div(ns, 1000000);
  int64_t secs = floor_div(ms, 1000);
  auto milli = static_cast<int>(ms - secs * 1000);
  int64_t days = floor_div(secs, 86400);
  auto sod = static_cast<int>(secs - days * 86400);
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  if (y < 0 || y > 9999) { // outside RFC 3339's four-digit years: still unambiguous
    char buf[64];
    std::snprintf(buf, sizeof buf, "%lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(y), m, d,
                  sod / 3600, sod / 60 % 60, sod % 60, milli);
    out += buf;
    return;
  }
  // Fixed-width digits written directly: this runs for every audit event.
  char buf[24] = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0', 'T', '0',
                  '0', ':', '0', '0', ':', '0', '0', '.', '0', '0', '0', 'Z'};
  auto put = [&](int at, int width, int64_t value) {
    for (int i = at + width - 1; i >= at; --i, value /= 10)
      buf[i] = static_cast<char>('0' + value % 10);
  };
  put(0, 4, y);
  put(5, 2, m);
  put(8, 2, d);
  put(11, 2, sod / 3600);
  put(14, 2, sod / 60 % 60);
  put(17, 2, sod % 60);
  put(20, 3, milli);
  out.append(buf, sizeof buf);
}

std::string rfc3339_ms(int64_t ns) {
  std::string out;
  append_rfc3339_ms(ns, out);
  return out;
}

} // namespace th::audit
