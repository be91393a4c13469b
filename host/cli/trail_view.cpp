// `tradehost trace CORR_ID` (the whole story of one signal) and `tradehost tail` (the trail as it
// grows, one line per event), read from an audit-sqlite database. Read-only: the sink may be
// writing meanwhile (WAL readers never block it).
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/trail_filter.hpp"

#include <audit_chain/rows.hpp>
#include <audit_chain/schema.hpp>
#include <audit_chain/sqlite.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <thread>

namespace th::cli {
namespace {

const char *const default_db = "var/audit.db"; // where configs/dev.yaml's sink writes

const char *const trace_usage = R"(Usage: tradehost trace CORR_ID [--db DB] [--json]

Prints every audit row of one signal in chain order: received, published, each agent's
decision, risk verdicts, orders, fills, position updates, with the time of each and the
milliseconds since the first. --db defaults to var/audit.db; --json prints one JSON object
{"correlation_id", "events": [{chain_position, event_id, event_type, timestamp, delta_ms,
service, data}]}.

Exit codes: 0 found, 1 no row has this correlation id, 2 unreadable database or usage error.
)";

const char *const tail_usage_head = R"(Usage: tradehost tail [--db DB] [-f] [filters]

Prints the last rows of the audit trail (10 unless --last says), one line per event:
position, time, event type, correlation id, service and the data's main fields. -f keeps
following the trail as it grows (until SIGINT/SIGTERM). --db defaults to var/audit.db.

Filters:
)";
const char *const tail_usage_tail = R"(
Exit codes: 0 ok, 2 unreadable database or usage error.
)";

std::atomic<bool> stop_following{false};

// "2025-01-15T10:30:01.250Z" -> ms since the epoch (the trail writes exactly this form).
int64_t timestamp_ms(const std::string &t) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

// The fields a reader looks for first, in this order, when present in a row's data.
std::string summary(const std::string &data) {
  static const char *const keys[] = {"agent_id",       "instrument", "action",       "side",
                                     "quantity",       "price",      "status",       "rule",
                                     "reason",         "order_id",   "fill_id",      "quantity_filled",
                                     "avg_fill_price", "delta",      "new_position", "strategy"};
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object())
    return "";
  std::string out;
  for (const char *key : keys) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null() || it->is_structured())
      continue;
    if (!out.empty())
      out += ' ';
    out += key;
    out += '=';
    out += it->is_string() ? it->get<std::string>() : it->dump();
  }
  return out;
}

bool write_out(const std::string &line) {
  return std::fwrite(line.data(), 1, line.size(), stdout) == line.size() && std::fflush(stdout) == 0;
}

std::string one_line(const audit::Row &row) {
  char head[160];
  std::snprintf(head, sizeof head, "%7llu %s %-20s %s %s",
                static_cast<unsigned long long>(row.chain_position), row.timestamp.c_str(),
                row.event_type.c_str(), row.correlation_id.c_str(), row.service.c_str());
  std::string line = head;
  if (std::string s = summary(row.data); !s.empty())
    line += "  " + s;
  return line + '\n';
}

std::optional<ParsedArgs> parse(const Args &args, const std::vector<OptionSpec> &specs,
                                const std::string &usage) {
  ParsedArgs parsed = parse_args(args, specs);
  if (parsed.has("--help")) {
    std::fputs(usage.c_str(), stdout);
    return std::nullopt;
  }
  return parsed;
}

} // namespace

int trace_command(const Args &args) {
  try {
    auto a = parse(args, {{"--db", "", true}, {"--json", "", false}}, trace_usage);
    if (!a)
      return 0;
    if (a->positional.size() != 1)
      throw UsageError("expected one correlation id");
    const std::string corr_id = a->positional[0];
    audit::Database db(a->value("--db").value_or(default_db), audit::Database::Mode::read_only);
    audit::require_schema(db);
    audit::RowFilter filter;
    filter.correlation_id = corr_id;
    std::vector<audit::Row> rows;
    audit::read_rows(db, filter, [&](const audit::Row &row) { rows.push_back(row); });
    if (rows.empty()) {
      std::fprintf(stderr, "tradehost trace: no audit row has correlation id %s in %s\n", corr_id.c_str(),
                   db.path().c_str());
      return 1;
    }
    const int64_t first = timestamp_ms(rows.front().timestamp);
    if (a->has("--json")) {
      nlohmann::json events = nlohmann::json::array();
      for (const auto &row : rows)
        events.push_back({{"chain_position", row.chain_position},
                          {"event_id", row.event_id},
                          {"event_type", row.event_type},
                          {"timestamp", row.timestamp},
                          {"delta_ms", timestamp_ms(row.timestamp) - first},
                          {"service", row.service},
                          {"data", nlohmann::json::parse(row.data, nullptr, false)}});
      write_out(nlohmann::json{{"correlation_id", corr_id}, {"events", std::move(events)}}.dump() + "\n");
      return 0;
    }
    char head[256];
    std::snprintf(head, sizeof head, "trace %s: %zu events over %lld ms (chain positions %llu-%llu)\n",
                  corr_id.c_str(), rows.size(),
                  static_cast<long long>(timestamp_ms(rows.back().timestamp) - first),
                  static_cast<unsigned long long>(rows.front().chain_position),
                  static_cast<unsigned long long>(rows.back().chain_position));
    std::string out = head;
    for (const auto &row : rows) {
      char line[200];
      std::snprintf(line, sizeof line, "  %s  +%6lld ms  %-20s %-16s", row.timestamp.c_str(),
                    static_cast<long long>(timestamp_ms(row.timestamp) - first), row.event_type.c_str(),
                    row.service.c_str());
      out += line;
      out += summary(row.data);
      out += '\n';
    }
    return write_out(out) ? 0 : 1;
  } catch (const UsageError &e) {
    std::fprintf(stderr, "tradehost trace: %s\n\n%s", e.what(), trace_usage);
    return 2;
  } catch (const audit::SqliteError &e) {
    std::fprintf(stderr, "tradehost trace: unreadable: %s\n", e.what());
    return 2;
  }
}

int tail_command(const Args &args) {
  const std::string usage = std::string(tail_usage_head) + trail_filter_help + tail_usage_tail;
  try {
    auto specs = trail_filter_options();
    specs.push_back({"--db", "", true});
    specs.push_back({"--follow", "-f", false});
    auto a = parse(args, specs, usage);
    if (!a)
      return 0;
    if (!a->positional.empty())
      throw UsageError("unexpected argument \"" + a->positional[0] + "\"");
    audit::RowFilter filter = trail_filter(*a);
    if (!a->value("--last"))
      filter.last = 10;
    audit::Database db(a->value("--db").value_or(default_db), audit::Database::Mode::read_only);
    audit::require_schema(db);
    std::signal(SIGPIPE, SIG_IGN); // a reader that goes away (`| head`) ends the loop via fwrite
    uint64_t seen = filter.from > 0 ? filter.from - 1 : 0;
    auto print = [&](const audit::Row &row) {
      seen = std::max(seen, row.chain_position);
      if (!write_out(one_line(row)))
        stop_following = true; // the reader went away
    };
    audit::read_rows(db, filter, print);
    if (stop_following)
      return 1; // stdout is gone
    if (!a->has("--follow"))
      return 0;
    std::signal(SIGINT, [](int) { stop_following = true; });
    std::signal(SIGTERM, [](int) { stop_following = true; });
    filter.last = 0;
    while (!stop_following) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200)); // polling: SQLite has no change feed
      filter.from = seen + 1;
      audit::read_rows(db, filter, print);
    }
    return 0;
  } catch (const UsageError &e) {
    std::fprintf(stderr, "tradehost tail: %s\n\n%s", e.what(), usage.c_str());
    return 2;
  } catch (const audit::SqliteError &e) {
    std::fprintf(stderr, "tradehost tail: unreadable: %s\n", e.what());
    return 2;
  }
}

} // namespace th::cli
