// Idempotency keys: a key maps to the first request's body digest and corr_id for a TTL. A key is
// reserved while its request is being handled, committed when the signal was accepted, and
// released when it surely was not (so the client can retry). When the outcome is unknown (the
// bus did not confirm: a 503 that may have been stored) the key is kept as ambiguous: a retry
// with the same body takes it over with the first corr_id and publishes under the same message
// id, which the bus de-duplicates. Bounded: the oldest keys go first.
#pragma once

#include <array>
#include <atomic>
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
  // retry: an ambiguous key taken over (first_corr_id is the corr_id to publish under again).
  // unavailable: only a shared store (shared_requests.hpp) answers it, when it cannot be reached.
  enum class Outcome { reserved, duplicate, conflict, in_progress, retry, unavailable };

  IdempotencyStore(int64_t ttl_s, size_t max_keys);

  // On duplicate, first_corr_id is the corr_id of the accepted request with this key.
  Outcome reserve(const std::string &key, const Digest &body, const std::string &corr_id, int64_t now_s,
                  std::string &first_corr_id);
  void commit(const std::string &key);
  void release(const std::string &key);
  void mark_ambiguous(const std::string &key); // a reserved key whose publish has no known outcome
  // Records `key` straight as ambiguous (requests identified by their signature, not a key).
  void remember_ambiguous(const std::string &key, const Digest &body, const std::string &corr_id,
                          int64_t now_s);

  size_t size() const;
  bool empty() const { return count_.load(std::memory_order_relaxed) == 0; } // no lock

private:
  struct Entry {
    Digest body;
    std::string corr_id;
    int64_t expires_s = 0;
    bool committed = false;
    bool ambiguous = false;
  };
  void expire(int64_t now_s);

  mutable std::mutex mutex_;
  std::atomic<size_t> count_{0}; // entries_.size(), readable without the lock
  int64_t ttl_s_;
  size_t max_keys_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<int64_t, std::string>> order_; // (expiry, key), oldest first (TTL is constant)
};

} // namespace th::gateway
