// tradehost replay: feed normalized signals (one JSON object per line) through a deployment on
// an in-process bus, wait until the pipeline has drained, print a summary. By default the
// sequential bus processes each signal and everything it causes before the next signal, on one
// thread, so a replay is deterministic; the host clock follows the signals' timestamps.
#include "app/lifecycle.hpp"
#include "app/runtime.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "events/json_codec.hpp"
#include "observability/log.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>

namespace th::cli {
namespace {

const char *const help = R"(Usage: tradehost replay -c FILE SIGNALS.jsonl [options]

Feeds normalized signals (one JSON object per line, contract Signal fields) through the
deployment's agents, risk chain, executors, portfolio and audit sinks on the embedded bus,
then prints a summary: signals, intents, rejections, fills and final positions.

Options:
  -c, --config FILE    the deployment (required)
  --json               print the summary as JSON
  --events FILE        also write every bus event as a JSON line {"subject":..,"payload":..}
  --free-running       run on the threaded embedded bus, as `run` does, without waiting for
                       each signal to drain (not deterministic across runs)
  -h, --help           this help

Exit codes: 0 ok, 1 some lines were invalid or the pipeline did not drain, 2 usage or config error
(also: a risk check, executor or audit sink that cannot be created or started).
)";

} // namespace

int replay_command(const Args &args) {
  ParsedArgs a;
  try {
    a = parse_args(args, {{"--config", "-c", true},
                          {"--json", "", false},
                          {"--events", "", true},
                          {"--free-running", "", false}});
  } catch (const UsageError &e) {
    std::fprintf(stderr, "tradehost replay: %s\n\n%s", e.what(), help);
    return 2;
  }
  if (a.has("--help")) {
    std::fputs(help, stdout);
    return 0;
  }
  if (!a.value("--config") || a.positional.size() != 1) {
    std::fprintf(stderr, "tradehost replay: need -c FILE and one SIGNALS.jsonl\n\n%s", help);
    return 2;
  }
  const std::string input_path = a.positional[0];
  std::ifstream input(input_path);
  if (!input) {
    std::fprintf(stderr, "tradehost replay: cannot read %s\n", input_path.c_str());
    return 2;
  }
  const bool lockstep = !a.has("--free-running");
  auto rt = app::load_runtime(*a.value("--config"),
                              lockstep ? app::BusChoice::sequential : app::BusChoice::embedded);
  if (!rt)
    return 2;

  // Fail closed, as `run`: a risk check, executor or audit sink that cannot be created or
  // started means no replay (exit 2), never a replay without it.
  auto refuse = [](const ConfigErrors &errors) {
    for (const auto &e : errors.errors())
      std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    return 2;
  };
  app::Lifecycle lifecycle(*rt, role_agent | role_exec | role_audit);
  try {
    lifecycle.build();
  } catch (const ConfigErrors &e) {
    return refuse(e);
  }

  // Summary counters and the optional event log, fed by their own subscription.
  std::mutex mutex;
  std::map<std::string, uint64_t> fills_by_status;
  std::map<std::string, uint64_t> rejections_by_rule;
  std::ofstream events;
  if (auto path = a.value("--events")) {
    events.open(*path);
    if (!events) {
      std::fprintf(stderr, "tradehost replay: cannot write %s\n", path->c_str());
      return 2;
    }
  }
  rt->bus->subscribe({"replay-summary",
                      {Subject::signals_normalized, Subject::decisions_order_intent,
                       Subject::decisions_rejected, Subject::executions_fill, Subject::executions_reconcile}},
                     [&](const Delivery &d) {
                       std::lock_guard lock(mutex);
                       if (auto *f = std::get_if<Fill>(&d.message.payload))
                         ++fills_by_status[std::string(fill_status_name(f->fill_status))];
                       if (auto *r = std::get_if<Rejection>(&d.message.payload))
                         ++rejections_by_rule[r->rule];
                       if (events.is_open())
                         events << nlohmann::json{{"subject", subject_name(d.message.subject)},
                                                  {"payload", to_json(d.message.payload)}}
                                       .dump()
                                << '\n';
                     });

  try {
    lifecycle.start();
  } catch (const ConfigErrors &e) {
    return refuse(e);
  }

  uint64_t line_no = 0, published = 0, invalid = 0;
  std::string line;
  while (std::getline(input, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    Signal signal;
    try {
      signal = signal_from_json(nlohmann::json::parse(line));
    } catch (const std::exception &e) {
      ++invalid;
      std::fprintf(stderr, "error: %s:%llu: %s\n", input_path.c_str(),
                   static_cast<unsigned long long>(line_no), e.what());
      continue;
    }
    rt->clock.set_replay_time(signal.timestamp_ns);
    Message m{Subject::signals_normalized, std::move(signal), {}};
    m.msg_id = corr_id_of(m) + ":signal";
    if (rt->bus->publish(m) != PublishStatus::ok) {
      std::fprintf(stderr, "error: %s:%llu: bus refused the signal\n", input_path.c_str(),
                   static_cast<unsigned long long>(line_no));
      ++invalid;
      continue;
    }
    ++published;
    if (lockstep)
      rt->bus->wait_idle(std::chrono::seconds(60));
  }
  bool drained = lifecycle.stop(std::chrono::minutes(5));

  auto stats = rt->pipeline->stats();
  nlohmann::json summary = {
      {"signals", published},
      {"invalid_lines", invalid},
      {"intents", stats.intents},
      {"rejections", stats.rejections},
      {"rejections_by_rule", rejections_by_rule},
      {"fills", stats.fills},
      {"fills_by_status", fills_by_status},
      {"positions", rt->portfolio.snapshot()["positions"]},
      {"drained", drained},
  };
  if (a.has("--json")) {
    std::printf("%s\n", summary.dump(2).c_str());
  } else {
    std::printf("signals     %llu (invalid lines: %llu)\n", static_cast<unsigned long long>(published),
                static_cast<unsigned long long>(invalid));
    std::printf("intents     %llu\n", static_cast<unsigned long long>(stats.intents));
    std::printf("rejections  %llu\n", static_cast<unsigned long long>(stats.rejections));
    for (auto &[rule, n] : rejections_by_rule)
      std::printf("  %-22s %llu\n", rule.c_str(), static_cast<unsigned long long>(n));
    std::printf("fills       %llu\n", static_cast<unsigned long long>(stats.fills));
    for (auto &[status, n] : fills_by_status)
      std::printf("  %-22s %llu\n", status.c_str(), static_cast<unsigned long long>(n));
    std::printf("positions\n");
    for (auto &p : summary["positions"])
      std::printf("  %-14s %-10s qty %-10g avg %-10.4f realized %-12.2f unrealized %.2f\n",
                  p.value("agent_id", "").c_str(), p.value("instrument", "").c_str(),
                  p.value("quantity", 0.0), p.value("avg_entry_price", 0.0), p.value("realized_pnl", 0.0),
                  p.value("unrealized_pnl", 0.0));
  }
  return (invalid || !drained) ? 1 : 0;
}

} // namespace th::cli
