// Audit timestamps: RFC 3339 UTC with exactly three fractional digits, e.g.
// "2025-01-15T10:30:01.250Z" (nanoseconds are floored to the millisecond).
#pragma once

#include <cstdint>
#include <string>

namespace th::audit {

std::string rfc3339_ms(int64_t ns_since_epoch);
void append_rfc3339_ms(int64_t ns_since_epoch, std::string &out);

} // namespace th::audit
