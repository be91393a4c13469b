#include "gateway/replay_guard.hpp"

#include <random>

namespace th::gateway {

ReplayGuard::ReplayGuard(int64_t window_s, size_t max_nonces)
    : window_s_(window_s), max_per_shard_(std::max<size_t>(1, max_nonces / shard_count)),
      salt_(std::random_device{}() | (uint64_t(std::random_device{}()) << 32)) {
  // Sized for the cap up front: growing a large table stalls the request that triggers it.
  for (auto &shard : shards_)
    shard.expiry_by_key.reserve(max_per_shard_);
}

uint64_t ReplayGuard::key(std::string_view source, std::string_view nonce) const {
  // FNV-1a over salt, source, a separator and nonce: the salt keeps keys unpredictable.
  uint64_t h = 1469598103934665603ull ^ salt_;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(source);
  mix(std::string_view("\0", 1));
  mix(nonce);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

void ReplayGuard::expire(Shard &shard, int64_t now_s) {
  auto &buckets = shard.keys_by_expiry;
  while (!buckets.empty() && buckets.begin()->first < now_s) {
    auto &[expiry, keys] = *buckets.begin();
    for (uint64_t k : keys)
      if (auto it = shard.expiry_by_key.find(k); it != shard.expiry_by_key.end() && it->second == expiry)
        shard.expiry_by_key.erase(it);
    buckets.erase(buckets.begin());
  }
}

ReplayGuard::Verdict ReplayGuard::check(std::string_view source, std::string_view nonce, int64_t timestamp_s,
                                        int64_t now_s) {
  if (timestamp_s < now_s - window_s_ || timestamp_s > now_s + window_s_)
    return Verdict::stale_timestamp;
  uint64_t k = key(source, nonce);
  Shard &shard = shards_[k % shard_count];
  std::lock_guard lock(shard.mutex);
  expire(shard, now_s);
  if (shard.expiry_by_key.contains(k))
    return Verdict::reused_nonce;
  // At the cap: drop the entries nearest to expiry to make room (so never the one recorded now).
  auto &buckets = shard.keys_by_expiry;
  while (shard.expiry_by_key.size() >= max_per_shard_ && !buckets.empty()) {
    auto earliest = buckets.begin();
    auto &[victim_expiry, keys] = *earliest;
    uint64_t victim = keys.back();
    keys.pop_back();
    if (auto found = shard.expiry_by_key.find(victim);
        found != shard.expiry_by_key.end() && found->second == victim_expiry) {
      shard.expiry_by_key.erase(found);
      ++shard.evicted;
    }
    if (keys.empty())
      buckets.erase(earliest);
  }
  int64_t expiry = timestamp_s + window_s_; // after this the timestamp alone refuses the request
  shard.expiry_by_key.emplace(k, expiry);
  // Timestamps mostly arrive in order: the newest bucket is the usual one.
  if (!buckets.empty() && buckets.rbegin()->first == expiry)
    buckets.rbegin()->second.push_back(k);
  else
    buckets[expiry].push_back(k);
  return Verdict::ok;
}

void ReplayGuard::forget(std::string_view source, std::string_view nonce) {
  uint64_t k = key(source, nonce);
  Shard &shard = shards_[k % shard_count];
  std::lock_guard lock(shard.mutex);
  shard.expiry_by_key.erase(k); // its heap entry is skipped when it comes up
}

size_t ReplayGuard::size() const {
  size_t n = 0;
  for (const auto &s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.expiry_by_key.size();
  }
  return n;
}

uint64_t ReplayGuard::evicted() const {
  uint64_t n = 0;
  for (const auto &s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.evicted;
  }
  return n;
}

} // namespace th::gateway
