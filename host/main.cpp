// tradehost: the plugin host for event-driven trading. Dispatches to one sub-command.
#include "cli/commands.hpp"

#include <tradehost/plugin.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

const char *const usage = R"(tradehost - plugin host for event-driven algorithmic trading

Usage: tradehost <command> [options]

Commands:
  run -c FILE [--role ROLE]     run a deployment until SIGINT/SIGTERM (SIGHUP reloads)
  validate -c FILE              check a deployment without starting it
  plugins -c FILE [--json]      list plugin libraries and refusals
  replay -c FILE SIGNALS.jsonl  feed normalized signals through a deployment, print a summary
  send -c FILE --source S BODY  sign and post a webhook (BODY or @file)
  audit verify|export|keygen|head  check, export, key or show the audit trail
  trace CORR_ID [--db DB]       one signal's story from the audit trail
  tail [--db DB] [-f]           the audit trail, one line per event (-f: follow)
  trading-state -c FILE [STATE] show or set the trading state (active, reducing, halted)
  completion bash               print a bash completion script

Options:
  -h, --help                    this help; `tradehost <command> --help` for a command's
  -V, --version                 print the version

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
)";

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(usage, stdout);
    return 0;
  }
  if (command == "-V" || command == "--version" || command == "version") {
    std::printf("tradehost %s (plugin ABI %d.%d)\n", TRADEHOST_VERSION, TH_ABI_VERSION_MAJOR,
                TH_ABI_VERSION_MINOR);
    return 0;
  }
  using namespace th::cli;
  if (command == "run")
    return run_command(args);
  if (command == "validate")
    return validate_command(args);
  if (command == "plugins")
    return plugins_command(args);
  if (command == "replay")
    return replay_command(args);
  if (command == "send")
    return send_command(args);
  if (command == "audit")
    return audit_command(args);
  if (command == "trace")
    return trace_command(args);
  if (command == "tail")
    return tail_command(args);
  if (command == "completion")
    return completion_command(args);
  if (command == "trading-state")
    return trading_state_command(args);
  std::fprintf(stderr, "tradehost: unknown command '%s'\n\n%s", command.c_str(), usage);
  return 2;
}
