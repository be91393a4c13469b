#include "cli/commands.hpp"

#include <cstdio>

namespace th::cli {

int plugins_command(const Args &) {
  std::fputs("tradehost plugins: not built yet\n", stderr);
  return 1;
}

} // namespace th::cli
