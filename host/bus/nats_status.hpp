// A nats.c status as text, with the library's last error when it belongs to that status.
#pragma once

#include <nats/nats.h>
#include <string>

namespace th {

inline std::string nats_error(natsStatus status) {
  natsStatus last = NATS_OK;
  const char *text = nats_GetLastError(&last);
  std::string out = natsStatus_GetText(status);
  if (text && *text && last == status)
    out += " (" + std::string(text) + ")";
  return out;
}

} // namespace th
