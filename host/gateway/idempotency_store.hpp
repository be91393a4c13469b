// Idempotency keys: a key maps to the first request's body digest and corr_id for a TTL. A key is
// reserved while its request is being handled, committed when the signal was accepted, and
// released when it was not (so the client can retry). Bounded: the oldest keys go first.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace th::gateway {

class IdempotencyStore {
public:
  using Digest = std::array<uint8_t, 32>;
  enum class Outcome { reserved, duplicate, conflict, in_progress };

  IdempotencyStore(int64_t ttl_s, size_t max_keys);

  // On duplicate, first_corr_id is the corr_id of the accepted request with this key.
  Outcome reserve(const std::string &key, const Digest &body, const std::string &corr_id, int64_t now_s,
                  std::string &first_corr_id);
  void commit(const std::string &key);
  void release(const std::string &key);

  size_t size() const;

private:
  struct Entry {
    Digest body;
    std::string corr_id;
    int64_t expires_s = 0;
    bool committed = false;
  };
  void expire(int64_t now_s);

  mutable std::mutex mutex_;
  int64_t ttl_s_;
  size_t max_keys_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<int64_t, std::string>> order_; // (expiry, key), oldest first (TTL is constant)
};

} // namespace th::gateway
