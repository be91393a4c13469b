// Replay protection and idempotency keys shared by every gateway process on one bus (issue 14,
// finding 12): behind a load balancer a nonce used at one replica, or a key reserved there, is
// seen by all, and by a restarted process. Records live in two key-value buckets of the bus
// (bus/key_value.hpp), "nonces" kept for twice the replay window and "idempotency" for the key
// TTL. The in-memory ReplayGuard still answers first (stale timestamps, nonces this process
// saw); these answer for the rest. A bucket that does not answer fails closed: the request is
// refused (503) and nothing is accepted.
//
// Records (short text, keys are 32 hex digits of SHA-256 of what they name):
//   nonce:  "u"                           used
//           "a {body digest} {corr_id}"   used by a request whose 503 was ambiguous
//   key:    "{r|c|a} {body digest} {reserved at, unix s} {corr_id}"
//           reserved (in progress), committed (accepted), ambiguous (outcome unknown)
#pragma once

#include "bus/key_value.hpp"
#include "gateway/idempotency_store.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace th::gateway {

class SharedRequests {
public:
  using Digest = IdempotencyStore::Digest;

  // A reservation older than `stale_after_s` belongs to a process that died while publishing:
  // its outcome is unknown, so a retry takes it over as if it were ambiguous.
  SharedRequests(std::shared_ptr<KeyValue> nonces, std::shared_ptr<KeyValue> keys, int64_t stale_after_s)
      : nonces_(std::move(nonces)), keys_(std::move(keys)), stale_after_s_(stale_after_s) {}

  enum class Nonce { fresh, reused, retry, unavailable };
  // Records the nonce as used. retry: it was used by the same body whose 503 was ambiguous, and
  // `first_corr_id` is the corr_id to publish under again.
  Nonce use_nonce(std::string_view source, std::string_view nonce, const Digest &body,
                  std::string &first_corr_id);
  void forget_nonce(std::string_view source, std::string_view nonce); // not accepted: may be retried
  void mark_nonce_ambiguous(std::string_view source, std::string_view nonce, const Digest &body,
                            const std::string &corr_id);

  // As IdempotencyStore::reserve; unavailable when the bucket did not answer.
  using Key = IdempotencyStore::Outcome;
  Key reserve(const std::string &key, const Digest &body, const std::string &corr_id, int64_t now_s,
              std::string &first_corr_id);
  void commit(const std::string &key, const Digest &body, const std::string &corr_id, int64_t now_s);
  void mark_ambiguous(const std::string &key, const Digest &body, const std::string &corr_id, int64_t now_s);

private:
  std::shared_ptr<KeyValue> nonces_;
  std::shared_ptr<KeyValue> keys_;
  int64_t stale_after_s_;
};

} // namespace th::gateway
