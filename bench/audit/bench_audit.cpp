// bench_audit [--events N] [--batch N] [--queue N] [--dir DIR] [--plugin SO] [--ids sequential|random]
//
// --ids random gives every event an id like the pipeline's ("fill_received:test_<16 random hex>"):
// the event_id index then takes inserts all over, and a commit rewrites one index page per row
// once the index outgrows the batch; sequential ids ("bench-N") always append.
//
// 1. chained write: N events through the audit-sqlite plugin (caller thread canonicalizes and
//    queues, writer thread hashes and inserts in WAL transactions of --batch with
//    synchronous=NORMAL, checkpoints signed every 10000), timed from the first on_audit_event to
//    stop() returning, i.e. until everything is committed.
// 2. chained append: the same through audit_chain's Appender directly (no queue, no canonicalizing).
// 3. raw insert: the rows the plugin wrote, re-inserted into a fresh database with the same schema,
//    pragmas, statement and batching, without hashing.
// 4. verify: audit_chain's verify() over the plugin's chain (every hash, with the public key).
// Each row also shows the process CPU time (all threads) it used: on a shared machine the wall
// time depends on what else runs, the CPU time much less.
#include "plugin_harness.hpp"
#include "sample_events.hpp"

#include <audit_chain/appender.hpp>
#include <audit_chain/canonical_json.hpp>
#include <audit_chain/checkpoint.hpp>
#include <audit_chain/schema.hpp>
#include <audit_chain/timestamp.hpp>
#include <audit_chain/verify.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Process CPU time (all threads): on a shared machine wall time alone says little.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double cpu_mark = 0;
void mark_cpu() {
  cpu_mark = cpu_seconds();
}

void remove_db(const std::string &path) {
  for (const char *suffix : {"", "-wal", "-shm", ".checkpoints.jsonl"})
    fs::remove(path + suffix);
}

void row(const char *name, size_t events, double secs) {
  double cpu = cpu_seconds() - cpu_mark;
  std::printf("| %-58s | %9zu | %8.3f | %12.0f | %8.3f | %12.0f |\n", name, events, secs,
              static_cast<double>(events) / secs, cpu, static_cast<double>(events) / cpu);
}

} // namespace

int main(int argc, char **argv) {
  size_t events = 500000, batch = 512, queue = 65536;
  std::string dir = fs::temp_directory_path().string(), plugin = AUDIT_SQLITE_SO, ids = "sequential";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--events")
      events = std::stoul(argv[i + 1]);
    else if (a == "--batch")
      batch = std::stoul(argv[i + 1]);
    else if (a == "--queue")
      queue = std::stoul(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else if (a == "--plugin")
      plugin = argv[i + 1];
    else if (a == "--ids" &&
             (std::string(argv[i + 1]) == "random" || std::string(argv[i + 1]) == "sequential"))
      ids = argv[i + 1];
    else {
      std::fprintf(stderr,
                   "usage: bench_audit [--events N] [--batch N] [--queue N] [--dir DIR] [--plugin SO] "
                   "[--ids sequential|random]\n");
      return 2;
    }
  }
  fs::path work = fs::path(dir) / ("bench-audit-" + std::to_string(::getpid()));
  fs::create_directories(work);
  std::string chained = (work / "chained.db").string(), appended = (work / "appended.db").string(),
              raw = (work / "raw.db").string(), key = (work / "bench").string();
  th::audit::generate_key_pair(key);

  std::vector<th::audit_test::SampleEvent> samples;
  samples.reserve(events);
  std::mt19937_64 random_ids(42);
  for (size_t i = 0; i < events; ++i) {
    samples.push_back(th::audit_test::sample_event("bench", i));
    if (ids == "random") {
      char id[64];
      std::snprintf(id, sizeof id, "%s:test_%016llx", samples.back().event_type.c_str(),
                    static_cast<unsigned long long>(random_ids()));
      samples.back().event_id = id;
    }
  }

  std::printf("bench_audit: %zu events, %s ids, batch %zu, queue %zu, WAL, synchronous=NORMAL, in %s\n\n",
              events, ids.c_str(), batch, queue, work.string().c_str());
  std::printf("| %-58s | %9s | %8s | %12s | %8s | %12s |\n", "path", "events", "wall s", "events/s", "CPU s",
              "events/CPU s");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(60, '-').c_str(), std::string(11, '-').c_str(),
              std::string(10, '-').c_str(), std::string(14, '-').c_str(), std::string(10, '-').c_str(),
              std::string(14, '-').c_str());

  // 1. Through the plugin.
  double chained_rate = 0;
  {
    std::string params = R"({"path":")" + chained + R"(","batch_max":)" + std::to_string(batch) +
                         R"(,"queue_capacity":)" + std::to_string(queue) +
                         R"(,"synchronous":"normal","signing_key":")" + key + R"(.key"})";
    th::test::PluginHarness h(plugin, params);
    mark_cpu();
    auto start = Clock::now();
    for (auto &s : samples) {
      th_audit_event v = s.view();
      if (h.d->on_audit_event(h.inst, &v) != TH_OK) {
        std::fprintf(stderr, "on_audit_event: %s\n", h.error().c_str());
        return 1;
      }
    }
    if (h.d->stop(h.inst) != TH_OK) {
      std::fprintf(stderr, "stop: %s\n", h.error().c_str());
      return 1;
    }
    double secs = seconds_since(start);
    chained_rate = static_cast<double>(events) / secs;
    row("chained write via plugin (queue + writer, committed)", events, secs);
  }

  // 2. Appender directly, from pre-canonicalized events.
  {
    std::vector<th::audit::PendingEvent> pending;
    pending.reserve(events);
    for (auto &s : samples)
      pending.push_back({s.event_id, s.correlation_id, s.event_type, th::audit::rfc3339_ms(s.timestamp_ns),
                         s.service, th::audit::canonicalize(s.data_json)});
    th::audit::Appender appender(appended, {});
    mark_cpu();
    auto start = Clock::now();
    for (size_t i = 0; i < pending.size(); i += batch)
      appender.append(pending.data() + i, std::min(batch, pending.size() - i));
    row("chained append (Appender, hashing, no queue)", events, seconds_since(start));
  }

  // 3. The same rows, no hashing.
  double raw_rate = 0;
  {
    std::vector<th::audit::Row> rows;
    rows.reserve(events);
    {
      th::audit::Database source(chained, th::audit::Database::Mode::read_only);
      th::audit::Statement all(source,
                               "SELECT chain_position, event_id, correlation_id, event_type, timestamp, "
                               "service, data, previous_hash, hash FROM events ORDER BY chain_position");
      while (all.step())
        rows.push_back({static_cast<uint64_t>(all.int64(0)), std::string(all.text(1)),
                        std::string(all.text(2)), std::string(all.text(3)), std::string(all.text(4)),
                        std::string(all.text(5)), std::string(all.text(6)), std::string(all.text(7)),
                        std::string(all.text(8))});
    }
    th::audit::Database db(raw, th::audit::Database::Mode::read_write_create);
    th::audit::configure_for_append(db, th::audit::Synchronous::normal);
    th::audit::create_schema(db);
    th::audit::Statement insert(
        db, "INSERT INTO events (chain_position, event_id, correlation_id, event_type, "
            "timestamp, service, data, previous_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
            "?7, ?8, ?9) ON CONFLICT (event_id) DO NOTHING");
    mark_cpu();
    auto start = Clock::now();
    for (size_t i = 0; i < rows.size(); i += batch) {
      db.exec("BEGIN IMMEDIATE");
      for (size_t j = i; j < std::min(rows.size(), i + batch); ++j) {
        auto &r = rows[j];
        insert.bind(1, static_cast<int64_t>(r.chain_position));
        insert.bind(2, r.event_id);
        insert.bind(3, r.correlation_id);
        insert.bind(4, r.event_type);
        insert.bind(5, r.timestamp);
        insert.bind(6, r.service);
        insert.bind(7, r.data);
        insert.bind(8, r.previous_hash);
        insert.bind(9, r.hash);
        insert.step();
        insert.reset();
      }
      db.exec("COMMIT");
    }
    double secs = seconds_since(start);
    raw_rate = static_cast<double>(rows.size()) / secs;
    row("raw SQLite insert, same rows and batching, no hashing", rows.size(), secs);
  }

  // Where the time goes: the two CPU stages alone, single-threaded, no database.
  {
    mark_cpu();
    auto start = Clock::now();
    size_t bytes = 0;
    for (auto &s : samples)
      bytes += th::audit::canonicalize(s.data_json).size();
    row("  cost: canonicalize data only (caller thread's share)", events, seconds_since(start));
    std::string data = th::audit::canonicalize(samples[0].data_json), timestamp = th::audit::rfc3339_ms(0),
                hash;
    th::audit::RowHasher hasher;
    mark_cpu();
    start = Clock::now();
    for (auto &s : samples) {
      th::audit::RowView r{1, s.event_id, s.correlation_id, s.event_type, timestamp, s.service, data, hash};
      hasher.hash(r, hash);
    }
    row("  cost: row message + SHA-256 only (writer thread's extra)", events + (bytes == 0),
        seconds_since(start));
  }

  // 4. Verification.
  {
    mark_cpu();
    auto start = Clock::now();
    auto report = th::audit::verify(chained, {key + ".pub", chained + ".checkpoints.jsonl"});
    double secs = seconds_since(start);
    if (!report.ok() || report.rows != events) {
      std::fprintf(stderr, "verify failed: %s\n",
                   report.ok() ? "row count" : report.first_problem->detail.c_str());
      return 1;
    }
    row("verify (every hash, link, checkpoint signature)", events, secs);
  }
  std::printf(
      "\nchained write / raw insert = %.2f (target >= 0.5); targets: write > 200000/s, verify > 500000/s\n",
      chained_rate / raw_rate);

  remove_db(chained);
  remove_db(appended);
  remove_db(raw);
  fs::remove_all(work);
  return 0;
}
