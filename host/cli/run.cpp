// tradehost run: run a deployment until SIGINT/SIGTERM. Shutdown order: stop accepting
// webhooks, drain the bus, stop plugins (sinks flush), stop the bus.
#include "app/runtime.hpp"
#include "app/service.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "observability/log.hpp"

#include <csignal>
#include <cstdio>

namespace th::cli {
namespace {

const char *const help = R"(Usage: tradehost run -c FILE [--role ROLE] [--listen ADDR]

Runs the deployment until SIGINT or SIGTERM, then drains queues, stops plugins and flushes
audit sinks. SIGHUP reloads the configuration.

Options:
  -c, --config FILE    the deployment (required)
  --role ROLE          all (default), or a comma-separated list of gateway, agent, exec, audit;
                       roles split over processes need a JetStream bus
  --listen ADDR        HTTP address (host:port) instead of the gateway's listen or the role's
                       default port (agent 8002, exec 8004, audit 8005); port 0 picks one
  -h, --help           this help

Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or configuration error.
)";

} // namespace

int run_command(const Args &args) {
  ParsedArgs a;
  try {
    a = parse_args(args, {{"--config", "-c", true}, {"--role", "", true}, {"--listen", "", true}});
  } catch (const UsageError &e) {
    std::fprintf(stderr, "tradehost run: %s\n\n%s", e.what(), help);
    return 2;
  }
  if (a.has("--help")) {
    std::fputs(help, stdout);
    return 0;
  }
  if (!a.value("--config") || !a.positional.empty()) {
    std::fprintf(stderr, "tradehost run: need -c FILE\n\n%s", help);
    return 2;
  }
  auto roles = parse_roles(a.value("--role").value_or("all"));
  if (!roles) {
    std::fprintf(stderr, "tradehost run: unknown role '%s' (all, gateway, agent, exec, audit)\n",
                 a.value("--role")->c_str());
    return 2;
  }

  // Signals are taken synchronously by this thread; every thread started later inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto rt = app::load_runtime(*a.value("--config"), app::BusChoice::deployment);
  if (!rt)
    return 2;
  if (*roles != role_all && rt->deployment.bus.kind == "embedded")
    log::warn("roles_on_embedded_bus",
              {{"roles", *a.value("--role")},
               {"note", "the embedded bus does not cross processes; other roles get nothing"}});
  return app::serve(*rt, *roles, set, a.value("--listen").value_or(""));
}

} // namespace th::cli
