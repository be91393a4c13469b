#include "cli/commands.hpp"

#include <cstdio>

namespace th::cli {

int send_command(const Args &) {
  std::fputs("tradehost send: not built yet\n", stderr);
  return 1;
}

} // namespace th::cli
