#include "cli/commands.hpp"

#include <cstdio>

namespace th::cli {

int validate_command(const Args &) {
  std::fputs("tradehost validate: not built yet\n", stderr);
  return 1;
}

} // namespace th::cli
