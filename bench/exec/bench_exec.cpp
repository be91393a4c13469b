// bench_exec: order intents per second through the risk-limits plugin (check_order) and the
// exec-sim plugin (on_order_intent), both real .so files called through the C ABI on one thread,
// latency 0. Each fill exec-sim emits is handed to risk-limits' on_fill, as the pipeline does.
//
// Two hosts:
//   lean      - a minimal host table: emit_fill forwards to risk on_fill, metric() and log() only
//               count calls, get_position() reads a net quantity the bench keeps per agent.
//               This measures the plugins.
//   recording - tests/support/plugin_harness.hpp's recording host (copies every fill into a
//               vector of strings, builds a string key per metric call). This measures the
//               plugins plus a deliberately slow test host.
//
// Usage: bench_exec [intents-per-run] [path/to/risk-limits.so]
// Without a risk-limits.so (argument, this build's plugins/, or build/plugins/) the rows say
// "simulator only".
#include "support/plugin_harness.hpp"

#include <tradehost/plugin.h>

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr int64_t t0 = 1736937000000000000; // 2025-01-15T10:30:00Z

std::string s(th_str v) {
  return v.len ? std::string(v.ptr, v.len) : std::string();
}

const th_plugin_descriptor *load(const std::string &path) {
  void *lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL); // kept loaded for the process
  if (!lib)
    throw std::runtime_error(std::string("dlopen: ") + dlerror());
  auto entry = reinterpret_cast<th_plugin_entry_fn>(dlsym(lib, TH_PLUGIN_ENTRY_SYMBOL));
  if (!entry)
    throw std::runtime_error("no entry symbol in " + path);
  return entry();
}

// ---- the lean host ---------------------------------------------------------------------------

struct LeanHost {
  int64_t now = t0;
  const th_plugin_descriptor *risk = nullptr;
  th_instance *risk_instance = nullptr;
  uint64_t fills = 0, filled_nonzero = 0, metric_calls = 0, logs = 0, rejections = 0;
  double net_quantity = 0; // one agent, one instrument in this bench
};

LeanHost &lean(th_host *h) {
  return *reinterpret_cast<LeanHost *>(h);
}

th_host_api lean_api() {
  th_host_api api{};
  api.struct_size = sizeof api;
  api.abi_major = TH_ABI_VERSION_MAJOR;
  api.abi_minor = TH_ABI_VERSION_MINOR;
  api.log = [](th_host *h, int32_t, th_str, th_str) { ++lean(h).logs; };
  api.now_ns = [](th_host *h) { return lean(h).now; };
  api.emit_order_intent = [](th_host *, const th_order_intent *) -> th_status { return TH_OK; };
  api.emit_fill = [](th_host *h, const th_fill *f) -> th_status {
    LeanHost &l = lean(h);
    ++l.fills;
    if (f->quantity_filled > 0) {
      ++l.filled_nonzero;
      l.net_quantity += f->side == TH_SIDE_BUY ? f->quantity_filled : -f->quantity_filled;
    }
    if (l.risk && l.risk->on_fill)
      l.risk->on_fill(l.risk_instance, f);
    return TH_OK;
  };
  api.emit_reconcile = [](th_host *, const th_reconcile *) -> th_status { return TH_OK; };
  api.get_position = [](th_host *h, th_str, th_str instrument, th_position *out) -> th_status {
    th_position p{};
    if (instrument.len)
      p.quantity = lean(h).net_quantity;
    uint32_t size = out->struct_size;
    p.struct_size = size;
    std::memcpy(out, &p, std::min<size_t>(size, sizeof p));
    return TH_OK;
  };
  api.metric = [](th_host *h, int32_t, th_str, const th_label *, size_t, double) -> th_status {
    ++lean(h).metric_calls;
    return TH_OK;
  };
  api.reject_order = [](th_host *h, th_str, th_str) -> th_status {
    ++lean(h).rejections;
    return TH_OK;
  };
  api.emit_audit = [](th_host *, th_str, th_str, th_str) -> th_status { return TH_OK; };
  return api;
}

th_instance *create(const th_plugin_descriptor *d, const th_host_api *api, void *host,
                    const std::string &params) {
  th_status st = TH_OK;
  th_instance *i =
      d->create(api, reinterpret_cast<th_host *>(host), th_str{params.data(), params.size()}, &st);
  if (st != TH_OK) {
    std::string err = s(d->last_error(i));
    d->destroy(i);
    throw std::runtime_error("create " + s(d->name) + ": " + err);
  }
  if (d->start)
    d->start(i);
  return i;
}

// ---- the workload ----------------------------------------------------------------------------

// Momentum-like intents: market, DAY, quantity 100, alternating buy and sell (so the position
// and exec-sim's protective orders stay bounded), risk_params max_position 1000, stop_loss 0.02.
struct Workload {
  std::vector<std::string> corr_ids;
  std::string agent = "momentum_v1", instrument = "AAPL", strategy = "momentum",
              signal_corr = "bench_signal_0";
  std::vector<th_order_intent> intents;

  Workload() {
    for (int n = 0; n < 1024; ++n)
      corr_ids.push_back("bench_" + std::to_string(100000000 + n));
    for (int n = 0; n < 1024; ++n) {
      th_order_intent i{};
      i.struct_size = sizeof i;
      i.flags = TH_INTENT_HAS_MAX_POSITION | TH_INTENT_HAS_STOP_LOSS;
      i.corr_id = {corr_ids[n].data(), corr_ids[n].size()};
      i.agent_id = {agent.data(), agent.size()};
      i.instrument = {instrument.data(), instrument.size()};
      i.strategy = {strategy.data(), strategy.size()};
      i.side = n % 2 ? TH_SIDE_SELL : TH_SIDE_BUY;
      i.order_type = TH_ORDER_MARKET;
      i.time_in_force = TH_TIF_DAY;
      i.quantity = 100;
      i.max_position = 1000;
      i.stop_loss = 0.02;
      intents.push_back(i);
    }
  }

  // A signal every 64 intents moves the price within +-0.5 (the 2% stops never trigger).
  th_signal signal(uint64_t n) const {
    th_signal sig{};
    sig.struct_size = sizeof sig;
    sig.flags = TH_SIGNAL_HAS_PRICE;
    sig.corr_id = {signal_corr.data(), signal_corr.size()};
    sig.instrument = {instrument.data(), instrument.size()};
    sig.action = TH_SIGNAL_BUY;
    sig.strength = 0.8;
    sig.price = 150 + static_cast<double>((n / 64) % 11) * 0.1 - 0.5;
    sig.timestamp_ns = t0 + static_cast<int64_t>(n) * 2000;
    return sig;
  }
};

struct Pipeline {
  const th_plugin_descriptor *risk = nullptr, *exec = nullptr;
  th_instance *risk_instance = nullptr, *exec_instance = nullptr;
  int64_t *clock = nullptr; // the host clock, advanced 2 us per intent (500k intents/s of host time)
};

struct RunResult {
  double seconds;     // wall clock
  double cpu_seconds; // this thread's CPU time: on a shared machine, the fairer figure
  uint64_t approved, rejected;
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

RunResult run(const Pipeline &p, const Workload &w, uint64_t count, uint64_t first) {
  uint64_t approved = 0, rejected = 0;
  auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  for (uint64_t n = first; n < first + count; ++n) {
    *p.clock = t0 + static_cast<int64_t>(n) * 2000;
    if (n % 64 == 0) {
      th_signal sig = w.signal(n);
      if (p.risk && p.risk->on_signal)
        p.risk->on_signal(p.risk_instance, &sig);
      p.exec->on_signal(p.exec_instance, &sig);
    }
    th_order_intent intent = w.intents[n % w.intents.size()];
    intent.timestamp_ns = *p.clock;
    if (p.risk) {
      th_status st = p.risk->check_order(p.risk_instance, &intent);
      if (st != TH_OK) {
        ++rejected;
        continue;
      }
    }
    ++approved;
    p.exec->on_order_intent(p.exec_instance, &intent);
  }
  const double cpu = thread_cpu_seconds() - cpu_start;
  std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
  return {d.count(), cpu, approved, rejected};
}

std::string risk_params_json() {
  std::string kill =
      (std::filesystem::temp_directory_path() / ("bench_exec_kill_" + std::to_string(getpid()))).string();
  return R"({"max_position":1000,"max_order_quantity":10000,"max_order_notional":10000000,)"
         R"("max_orders_per_second":1000000,"allow_instruments":["AAPL","MSFT","BTC/*"],)"
         R"("deny_instruments":["GME"],"max_daily_loss":1000000,"kill_switch_file":")" +
         kill + R"(","kill_switch_check_ms":100})";
}

const std::string exec_params = R"({"seed":42,"slippage_bps":5,"min_latency_ms":0,"max_latency_ms":0,)"
                                R"("commission_per_share":0.005,"fee_bps":0.3})";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void print_row(const char *host, const char *chain, uint64_t count, const std::vector<RunResult> &runs) {
  std::vector<double> wall, cpu;
  for (const RunResult &r : runs) {
    wall.push_back(static_cast<double>(count) / r.seconds);
    cpu.push_back(static_cast<double>(count) / r.cpu_seconds);
  }
  std::printf("| %-9s | %-26s | %9llu | %4zu | %13.0f | %13.0f | %13.0f | %9.1f | %8llu |\n", host, chain,
              static_cast<unsigned long long>(count), runs.size(), median(wall),
              *std::max_element(wall.begin(), wall.end()), median(cpu), 1e9 / median(cpu),
              static_cast<unsigned long long>(runs.back().rejected));
}

} // namespace

int main(int argc, char **argv) {
  const uint64_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  std::string risk_path = argc > 2 ? argv[2] : "";
  if (risk_path.empty()) {
    for (std::string candidate : {std::string(TRADEHOST_PLUGIN_BUILD_DIR) + "/risk-limits.so",
                                  std::string("build/plugins/risk-limits.so")})
      if (std::filesystem::exists(candidate)) {
        risk_path = candidate;
        break;
      }
  }
  const int repetitions = 5;
  const Workload w;
  const std::string risk_params = risk_params_json();

  std::printf("bench_exec: %llu intents per run, %d runs per row, one thread, exec-sim latency 0, "
              "slippage 5 bps, alternating buy/sell 100 market\n",
              static_cast<unsigned long long>(count), repetitions);
  std::printf("exec-sim: %s\nrisk-limits: %s\n\n", EXEC_SIM_SO,
              risk_path.empty() ? "(not found: simulator only)" : risk_path.c_str());
  std::printf("| host      | chain                      | intents   | runs | wall median/s | wall best/s   | "
              "cpu median/s  | cpu ns/op | rejected |\n");
  std::printf("|-----------|----------------------------|-----------|------|---------------|---------------|-"
              "--------------|-----------|----------|\n");

  const th_plugin_descriptor *exec = load(EXEC_SIM_SO);
  const th_plugin_descriptor *risk = risk_path.empty() ? nullptr : load(risk_path);

  // Lean host: simulator only, then risk + simulator.
  for (bool with_risk : {false, true}) {
    if (with_risk && !risk)
      continue;
    const th_host_api api = lean_api();
    LeanHost host; // both instances share it: one clock, one position
    Pipeline p;
    p.exec = exec;
    p.exec_instance = create(exec, &api, &host, exec_params);
    if (with_risk) {
      p.risk = risk;
      p.risk_instance = create(risk, &api, &host, risk_params);
      host.risk = risk;
      host.risk_instance = p.risk_instance;
    }
    p.clock = &host.now;
    std::vector<RunResult> runs;
    uint64_t approved = run(p, w, count / 10, 0).approved; // warm-up
    for (int r = 0; r < repetitions; ++r) {
      runs.push_back(run(p, w, count, (r + 1) * count));
      approved += runs.back().approved;
    }
    print_row("lean", with_risk ? "risk-limits + exec-sim" : "exec-sim only", count, runs);
    // Sanity: every approved market intent gives exactly one complete fill (no partials here).
    if (host.filled_nonzero != approved || host.fills != approved)
      std::printf("ERROR: %llu approved intents but %llu fills\n", static_cast<unsigned long long>(approved),
                  static_cast<unsigned long long>(host.fills));
    if (p.risk_instance) {
      if (risk->stop)
        risk->stop(p.risk_instance);
      risk->destroy(p.risk_instance);
    }
    if (exec->stop)
      exec->stop(p.exec_instance);
    exec->destroy(p.exec_instance);
  }

  // Recording harness host (tests/support/plugin_harness.hpp).
  {
    th::test::PluginHarness exec_h(EXEC_SIM_SO, exec_params);
    std::unique_ptr<th::test::PluginHarness> risk_h;
    if (risk)
      risk_h = std::make_unique<th::test::PluginHarness>(risk_path, risk_params);
    Pipeline p;
    p.exec = exec_h.d;
    p.exec_instance = exec_h.inst;
    if (risk_h)
      p.risk = risk_h->d, p.risk_instance = risk_h->inst;
    p.clock = &exec_h.recorder.now;
    std::vector<RunResult> runs;
    const uint64_t chunk = 100'000; // the recorder keeps every fill: clear it between chunks
    for (int r = 0; r < repetitions; ++r) {
      RunResult total{0, 0, 0, 0};
      for (uint64_t done = 0; done < count; done += chunk) {
        uint64_t n = std::min(chunk, count - done);
        if (risk_h)
          risk_h->recorder.now = exec_h.recorder.now;
        RunResult part = run(p, w, n, (r + 1) * count + done);
        total.seconds += part.seconds, total.cpu_seconds += part.cpu_seconds, total.approved += part.approved,
            total.rejected += part.rejected;
        exec_h.recorder.fills.clear();
        if (risk_h)
          risk_h->recorder.rejections.clear();
      }
      runs.push_back(total);
    }
    print_row("recording", risk ? "risk-limits + exec-sim" : "exec-sim only", count, runs);
  }
  return 0;
}
