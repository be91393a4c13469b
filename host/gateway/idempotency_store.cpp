#include "gateway/idempotency_store.hpp"

namespace th::gateway {

IdempotencyStore::IdempotencyStore(int64_t ttl_s, size_t max_keys)
    : ttl_s_(ttl_s), max_keys_(std::max<size_t>(1, max_keys)) {}

void IdempotencyStore::expire(int64_t now_s) {
  while (!order_.empty() && (order_.front().first <= now_s || entries_.size() > max_keys_)) {
    auto it = entries_.find(order_.front().second);
    // A key released and reserved again has a later expiry than this queue entry: keep it.
    if (it != entries_.end() && it->second.expires_s == order_.front().first)
      entries_.erase(it);
    order_.pop_front();
  }
  count_.store(entries_.size(), std::memory_order_relaxed);
}

IdempotencyStore::Outcome IdempotencyStore::reserve(const std::string &key, const Digest &body,
                                                    const std::string &corr_id, int64_t now_s,
                                                    std::string &first_corr_id) {
  std::lock_guard lock(mutex_);
  expire(now_s);
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) {
    if (it->second.body != body)
      return it->second.committed || it->second.ambiguous ? Outcome::conflict : Outcome::in_progress;
    if (it->second.ambiguous) {
      it->second.ambiguous = false; // in progress again, under the first corr_id
      first_corr_id = it->second.corr_id;
      return Outcome::retry;
    }
    if (!it->second.committed)
      return Outcome::in_progress;
    first_corr_id = it->second.corr_id;
    return Outcome::duplicate;
  }
  it->second = Entry{body, corr_id, now_s + ttl_s_, false, false};
  order_.emplace_back(now_s + ttl_s_, key);
  count_.store(entries_.size(), std::memory_order_relaxed);
  return Outcome::reserved;
}

void IdempotencyStore::commit(const std::string &key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end())
    it->second.committed = true;
}

void IdempotencyStore::release(const std::string &key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end() && !it->second.committed)
    entries_.erase(it);
  count_.store(entries_.size(), std::memory_order_relaxed);
}

void IdempotencyStore::mark_ambiguous(const std::string &key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end() && !it->second.committed)
    it->second.ambiguous = true;
}

void IdempotencyStore::remember_ambiguous(const std::string &key, const Digest &body,
                                          const std::string &corr_id, int64_t now_s) {
  std::lock_guard lock(mutex_);
  expire(now_s);
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted && it->second.committed)
    return;
  it->second = Entry{body, corr_id, now_s + ttl_s_, false, true};
  order_.emplace_back(now_s + ttl_s_, key);
  count_.store(entries_.size(), std::memory_order_relaxed);
}

size_t IdempotencyStore::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

} // namespace th::gateway
