// `tradehost audit ...` for the tests: the same audit_command() as the host binary, linked
// without the rest of the host so the audit tests stand alone.
#include "cli/commands.hpp"

int main(int argc, char **argv) {
  return th::cli::audit_command(th::cli::Args(argv + 1, argv + argc));
}
