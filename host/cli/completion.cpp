#include "cli/commands.hpp"

#include <cstdio>

namespace th::cli {

int completion_command(const Args &) {
  std::fputs("tradehost completion: not built yet\n", stderr);
  return 1;
}

} // namespace th::cli
