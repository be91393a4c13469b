// Replay protection for signed webhooks: a timestamp must lie within +-window of now, and a
// nonce may be used once while its timestamp is inside the window. Nonces are kept as 64-bit
// keyed hashes in sharded maps, expire when their timestamp leaves the window, and are capped
// (the entries closest to expiry are dropped first when the cap is reached). Expiry is kept per
// second, in one bucket of keys per second: recording and expiring a nonce are O(1) amortised.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace th::gateway {

class ReplayGuard {
public:
  enum class Verdict { ok, stale_timestamp, reused_nonce };

  ReplayGuard(int64_t window_s, size_t max_nonces);

  // Checks and, when ok, records the nonce (scoped by source).
  Verdict check(std::string_view source, std::string_view nonce, int64_t timestamp_s, int64_t now_s);
  // Forgets a recorded nonce (the request was not accepted and may be retried as sent).
  void forget(std::string_view source, std::string_view nonce);

  size_t size() const;      // entries held (expired ones leave when their shard is next used)
  uint64_t evicted() const; // nonces dropped early because of the cap

private:
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<uint64_t, int64_t> expiry_by_key;
    // Keys by expiry second; entries whose key was forgotten or re-recorded are skipped.
    std::map<int64_t, std::vector<uint64_t>> keys_by_expiry;
    uint64_t evicted = 0;
  };
  uint64_t key(std::string_view source, std::string_view nonce) const;
  void expire(Shard &shard, int64_t now_s);

  int64_t window_s_;
  size_t max_per_shard_;
  uint64_t salt_;
  static constexpr size_t shard_count = 16;
  Shard shards_[shard_count];
};

} // namespace th::gateway
