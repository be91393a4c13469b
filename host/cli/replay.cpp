#include "cli/commands.hpp"

#include <cstdio>

namespace th::cli {

int replay_command(const Args &) {
  std::fputs("tradehost replay: not built yet\n", stderr);
  return 1;
}

} // namespace th::cli
