// `tradehost audit ...`, `tradehost trace ...` and `tradehost tail ...` for the tests: the same
// command functions as the host binary, linked without the rest of the host so the audit tests
// stand alone.
#include "cli/commands.hpp"

#include <string>

int main(int argc, char **argv) {
  const std::string first = argc > 1 ? argv[1] : "";
  if (first == "trace" || first == "tail") {
    th::cli::Args rest(argv + 2, argv + argc);
    return first == "trace" ? th::cli::trace_command(rest) : th::cli::tail_command(rest);
  }
  return th::cli::audit_command(th::cli::Args(argv + 1, argv + argc));
}
