#include "cli/commands.hpp"

#include <cstdio>

namespace th::cli {

int run_command(const Args &) {
  std::fputs("tradehost run: not built yet\n", stderr);
  return 1;
}

} // namespace th::cli
