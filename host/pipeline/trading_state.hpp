// The host's trading state, an operator's switch over everything the agents decide:
//   active    intents go to the risk chain;
//   reducing  only intents that reduce the agent's position in the instrument go on;
//   halted    no intent goes on, and the executors' working orders are cancelled (cancel_all).
// Persisted in data_dir/trading_state.json (written to a temporary file, fsynced, renamed over,
// directory fsynced) before it takes effect, and restored at start: a change that cannot be
// stored is refused and nothing changes. Reads are one atomic load (the intent hot path).
#pragma once

#include <tradehost/plugin.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace th {

// TH_TRADING_ACTIVE / TH_TRADING_REDUCING / TH_TRADING_HALTED <-> "active" / "reducing" / "halted".
std::string_view trading_state_name(int32_t state);
std::optional<int32_t> trading_state_from_name(std::string_view name);

class TradingState {
public:
  // Reads `path` when it exists (the state a previous process left), else active. Throws
  // std::runtime_error when the file exists but cannot be read or is not a trading state: the
  // host does not guess (fail closed at start). Call once, before anything reads the state.
  void open(const std::string &path);
  const std::string &path() const { return path_; }

  int32_t get() const { return state_.load(std::memory_order_acquire); }

  struct Change {
    bool ok = false;
    std::string error; // why it was not stored (then nothing changed)
    int32_t previous = TH_TRADING_ACTIVE;
    int32_t now = TH_TRADING_ACTIVE;
  };
  // Stores the state durably, then switches and calls the listeners (from this thread, in
  // order). Without a path (open() not called: replay, tests) it only switches.
  Change set(int32_t state, const std::string &by, const std::string &reason);

  // Called after every stored change with (previous, now, by, reason).
  using Listener = std::function<void(int32_t, int32_t, const std::string &, const std::string &)>;
  void on_change(Listener listener);

private:
  std::string path_;
  std::atomic<int32_t> state_{TH_TRADING_ACTIVE};
  std::mutex mutex_; // serialises set(): one writer of the file at a time
  std::vector<Listener> listeners_;
};

} // namespace th
