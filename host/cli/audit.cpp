#include "cli/commands.hpp"

#include <cstdio>

namespace th::cli {

int audit_command(const Args &) {
  std::fputs("tradehost audit: not built yet\n", stderr);
  return 1;
}

} // namespace th::cli
