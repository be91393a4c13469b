#include "gateway/replay_guard.hpp"

#include <optional>
#include <random>

namespace th::gateway {

ReplayGuard::ReplayGuard(int64_t window_s, size_t max_nonces)
    : window_s_(window_s), max_per_shard_(std::max<size_t>(1, max_nonces / shard_count)),
      salt_(std::random_device{}() | (uint64_t(std::random_device{}()) << 32)) {}

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
  while (!shard.by_expiry.empty() && shard.by_expiry.top().first < now_s) {
    auto [expiry, k] = shard.by_expiry.top();
    shard.by_expiry.pop();
    auto it = shard.expiry_by_key.find(k);
    if (it != shard.expiry_by_key.end() && it->second == expiry)
      shard.expiry_by_key.erase(it);
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
  int64_t expiry = timestamp_s + window_s_; // after this the timestamp alone refuses the request
  auto [it, inserted] = shard.expiry_by_key.try_emplace(k, expiry);
  if (!inserted)
    return Verdict::reused_nonce;
  shard.by_expiry.emplace(expiry, k);
  // Over the cap: drop the entries nearest to expiry, never the one just recorded.
  std::optional<std::pair<int64_t, uint64_t>> newest;
  while (shard.expiry_by_key.size() > max_per_shard_ && !shard.by_expiry.empty()) {
    auto top = shard.by_expiry.top();
    shard.by_expiry.pop();
    if (top.second == k) {
      newest = top;
      continue;
    }
    auto victim = shard.expiry_by_key.find(top.second);
    if (victim != shard.expiry_by_key.end() && victim->second == top.first) {
      shard.expiry_by_key.erase(victim);
      ++shard.evicted;
    }
  }
  if (newest)
    shard.by_expiry.push(*newest);
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
