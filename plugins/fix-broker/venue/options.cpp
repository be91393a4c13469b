#include "options.hpp"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace fix_venue {
namespace {

const char *const usage = R"(usage: tradehost-fix-venue --port N [options]
A FIX 4.4 acceptor that plays a broker (see plugins/fix-broker/README.md).
  --port N                   listen port (required)
  --sender-comp-id ID        ours (default VENUE)
  --target-comp-id ID        the client's (default TRADEHOST)
  --store DIR                FileStore directory: sequence numbers survive a restart (default: memory)
  --heartbeat-s N            (default 30)
  --username U               Logon 553 required
  --password-env VAR         Logon 554 required, read from environment variable VAR
  --mid SYMBOL=PRICE         starting last price of SYMBOL (repeatable)
  --default-mid PRICE        starting last price of other symbols (default 100)
  --reject-symbols A,B       reject orders for these symbols (OrdRejReason 1)
  --max-qty Q                reject orders above Q (OrdRejReason 3)
  --partial-fills N          execute each order in N fills (default 1)
  --fill-fraction F          execute only this fraction; the rest rests (default 1)
  --commission-per-share C   Commission 12 (CommType 1) on fills
  --ack-delay-ms N           delay before handling each request
  --fill-delay-ms N          delay between the ack and the fills
  --day-length-ms N          resting DAY orders expire after N ms (ExecType C; default never)
faults (N = the order's number in this run, from 1):
  --drop-after-ack N         disconnect right after acking order N (its fills go by resend)
  --possdup-fill N           send order N's first fill twice, the copy with PossDupFlag 43=Y
  --skip-seq N:K             skip K outgoing sequence numbers before order N's first fill (needs --store:
                             QuickFIX's MemoryStore then gap-fills over the message itself)
  --replay-fills-on-logon    at every logon resend every fill sent so far, with PossDupFlag=Y
)";

double number(const std::string &name, const std::string &v) {
  char *end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end)
    throw std::invalid_argument(name + ": not a number: " + v);
  return d;
}
int integer(const std::string &name, const std::string &v) {
  double d = number(name, v);
  if (d != static_cast<int>(d) || d < 0)
    throw std::invalid_argument(name + ": not a non-negative integer: " + v);
  return static_cast<int>(d);
}

} // namespace

Options parse_options(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string name = argv[i];
    if (name == "--help" || name == "-h")
      throw std::invalid_argument(usage);
    if (name == "--replay-fills-on-logon") {
      o.replay_fills_on_logon = true;
      continue;
    }
    if (i + 1 >= argc)
      throw std::invalid_argument(name + " needs a value\n" + usage);
    std::string v = argv[++i];
    if (name == "--port")
      o.port = integer(name, v);
    else if (name == "--sender-comp-id")
      o.sender_comp_id = v;
    else if (name == "--target-comp-id")
      o.target_comp_id = v;
    else if (name == "--store")
      o.store_dir = v;
    else if (name == "--heartbeat-s")
      o.heartbeat_s = integer(name, v);
    else if (name == "--username")
      o.username = v;
    else if (name == "--password-env") {
      const char *p = std::getenv(v.c_str());
      if (!p || !*p)
        throw std::invalid_argument(name + ": environment variable " + v + " is not set");
      o.password = p;
    } else if (name == "--mid") {
      auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0)
        throw std::invalid_argument(name + ": expected SYMBOL=PRICE, got " + v);
      o.mids[v.substr(0, eq)] = number(name, v.substr(eq + 1));
    } else if (name == "--default-mid")
      o.default_mid = number(name, v);
    else if (name == "--reject-symbols") {
      std::istringstream in(v);
      for (std::string s; std::getline(in, s, ',');)
        if (!s.empty())
          o.reject_symbols.insert(s);
    } else if (name == "--max-qty")
      o.max_qty = number(name, v);
    else if (name == "--partial-fills")
      o.partial_fills = integer(name, v);
    else if (name == "--fill-fraction")
      o.fill_fraction = number(name, v);
    else if (name == "--commission-per-share")
      o.commission_per_share = number(name, v);
    else if (name == "--ack-delay-ms")
      o.ack_delay_ms = integer(name, v);
    else if (name == "--fill-delay-ms")
      o.fill_delay_ms = integer(name, v);
    else if (name == "--day-length-ms")
      o.day_length_ms = integer(name, v);
    else if (name == "--drop-after-ack")
      o.drop_after_ack = integer(name, v);
    else if (name == "--possdup-fill")
      o.possdup_fill = integer(name, v);
    else if (name == "--skip-seq") {
      auto colon = v.find(':');
      if (colon == std::string::npos)
        throw std::invalid_argument(name + ": expected N:K, got " + v);
      o.skip_seq_order = integer(name, v.substr(0, colon));
      o.skip_seq_count = integer(name, v.substr(colon + 1));
    } else
      throw std::invalid_argument("unknown option " + name + "\n" + usage);
  }
  if (o.port <= 0 || o.port > 65535)
    throw std::invalid_argument(std::string("--port is required\n") + usage);
  if (o.skip_seq_order > 0 && o.store_dir.empty())
    throw std::invalid_argument("--skip-seq needs --store");
  if (o.partial_fills < 1)
    throw std::invalid_argument("--partial-fills must be >= 1");
  if (o.fill_fraction <= 0 || o.fill_fraction > 1)
    throw std::invalid_argument("--fill-fraction must be in (0, 1]");
  return o;
}

} // namespace fix_venue
