#include "gateway/shared_requests.hpp"

#include "gateway/crypto.hpp"
#include "observability/log.hpp"

#include <sstream>

namespace th::gateway {
namespace {

std::string nonce_key(std::string_view source, std::string_view nonce) {
  std::string input("nonce\n");
  input.append(source).append("\n").append(nonce);
  return hex_prefix(sha256(input), 16);
}

std::string idempotency_key(const std::string &key) {
  return hex_prefix(sha256("key\n" + key), 16);
}

std::string key_record(char state, const IdempotencyStore::Digest &body, int64_t at_s,
                       const std::string &corr_id) {
  return std::string(1, state) + ' ' + hex_prefix(body) + ' ' + std::to_string(at_s) + ' ' + corr_id;
}

struct KeyRecord {
  char state = 0;
  std::string body;
  int64_t at_s = 0;
  std::string corr_id;
};

bool parse(const std::string &text, KeyRecord &r) {
  std::istringstream in(text);
  std::string state;
  return static_cast<bool>(in >> state >> r.body >> r.at_s >> r.corr_id) && state.size() == 1 &&
         (r.state = state[0], true);
}

void warn_unavailable(const char *what) {
  log::warn("gateway_shared_state_unavailable", {{"operation", what}});
}

} // namespace

SharedRequests::Nonce SharedRequests::use_nonce(std::string_view source, std::string_view nonce,
                                                const Digest &body, std::string &first_corr_id) {
  const std::string key = nonce_key(source, nonce);
  std::string existing;
  uint64_t revision = 0;
  switch (nonces_->create(key, "u", existing, revision)) {
  case KeyValue::Result::ok:
    return Nonce::fresh;
  case KeyValue::Result::exists:
    break;
  default:
    warn_unavailable("use_nonce");
    return Nonce::unavailable;
  }
  // "a {digest} {corr_id}": the same body may take the ambiguous request over, once.
  const std::string prefix = "a " + hex_prefix(body) + ' ';
  if (existing.compare(0, prefix.size(), prefix) != 0)
    return Nonce::reused;
  switch (nonces_->update(key, "u", revision)) {
  case KeyValue::Result::ok:
    first_corr_id = existing.substr(prefix.size());
    return Nonce::retry;
  case KeyValue::Result::conflict: // another replica took it over first
    return Nonce::reused;
  default:
    warn_unavailable("use_nonce");
    return Nonce::unavailable;
  }
}

void SharedRequests::forget_nonce(std::string_view source, std::string_view nonce) {
  if (nonces_->erase(nonce_key(source, nonce)) != KeyValue::Result::ok)
    warn_unavailable("forget_nonce"); // the client's retry is then refused as a replay: safe
}

void SharedRequests::mark_nonce_ambiguous(std::string_view source, std::string_view nonce, const Digest &body,
                                          const std::string &corr_id) {
  if (nonces_->put(nonce_key(source, nonce), "a " + hex_prefix(body) + ' ' + corr_id) != KeyValue::Result::ok)
    warn_unavailable("mark_nonce_ambiguous"); // the record stays "used": a retry is a replay, never a double
}

SharedRequests::Key SharedRequests::reserve(const std::string &key, const Digest &body,
                                            const std::string &corr_id, int64_t now_s,
                                            std::string &first_corr_id) {
  const std::string name = idempotency_key(key);
  std::string existing;
  uint64_t revision = 0;
  switch (keys_->create(name, key_record('r', body, now_s, corr_id), existing, revision)) {
  case KeyValue::Result::ok:
    return Key::reserved;
  case KeyValue::Result::exists:
    break;
  default:
    warn_unavailable("reserve");
    return Key::unavailable;
  }
  KeyRecord r;
  if (!parse(existing, r))
    return Key::conflict; // not a record this gateway writes: never reuse it
  const bool stale = r.state == 'r' && now_s - r.at_s > stale_after_s_;
  if (r.body != hex_prefix(body))
    return r.state == 'r' && !stale ? Key::in_progress : Key::conflict;
  if (r.state == 'c') {
    first_corr_id = r.corr_id;
    return Key::duplicate;
  }
  if (r.state == 'r' && !stale)
    return Key::in_progress;
  // Ambiguous, or reserved by a process that died: taken over under the first corr_id.
  switch (keys_->update(name, key_record('r', body, now_s, r.corr_id), revision)) {
  case KeyValue::Result::ok:
    first_corr_id = r.corr_id;
    return Key::retry;
  case KeyValue::Result::conflict:
    return Key::in_progress;
  default:
    warn_unavailable("reserve");
    return Key::unavailable;
  }
}

void SharedRequests::commit(const std::string &key, const Digest &body, const std::string &corr_id,
                            int64_t now_s) {
  // A commit that does not arrive leaves the reservation, which turns stale: a retry then
  // republishes under the same message id, which the bus de-duplicates within its window.
  if (keys_->put(idempotency_key(key), key_record('c', body, now_s, corr_id)) != KeyValue::Result::ok)
    warn_unavailable("commit");
}

void SharedRequests::mark_ambiguous(const std::string &key, const Digest &body, const std::string &corr_id,
                                    int64_t now_s) {
  if (keys_->put(idempotency_key(key), key_record('a', body, now_s, corr_id)) != KeyValue::Result::ok)
    warn_unavailable("mark_ambiguous");
}

} // namespace th::gateway
