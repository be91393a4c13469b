#include "bus/jetstream_key_value.hpp"

#include "bus/nats_status.hpp"

#include <stdexcept>

namespace th {
namespace {
constexpr int64_t ns_per_s = 1'000'000'000;

// A conditional write the server refused (NATS_ERR) is told apart from a lost record by reading
// the key back.
KeyValue::Result read(kvStore *kv, const std::string &key, std::string &value, uint64_t &revision) {
  kvEntry *entry = nullptr;
  natsStatus status = kvStore_Get(&entry, kv, key.c_str());
  if (status == NATS_NOT_FOUND)
    return KeyValue::Result::missing;
  if (status != NATS_OK)
    return KeyValue::Result::unavailable;
  const char *data = static_cast<const char *>(kvEntry_Value(entry));
  value.assign(data ? data : "", static_cast<size_t>(kvEntry_ValueLen(entry)));
  revision = kvEntry_Revision(entry);
  kvEntry_Destroy(entry);
  return KeyValue::Result::ok;
}
} // namespace

void JetStreamKeyValue::bind(jsCtx *js) {
  kvStore *kv = nullptr;
  natsStatus status = js_KeyValue(&kv, js, bucket_.c_str());
  if (status == NATS_NOT_FOUND) {
    kvConfig config;
    kvConfig_Init(&config);
    config.Bucket = bucket_.c_str();
    config.History = 1;
    config.TTL = int64_t(ttl_.count()) * ns_per_s;
    config.StorageType = js_FileStorage;
    config.Replicas = replicas_;
    status = js_CreateKeyValue(&kv, js, &config);
    if (status != NATS_OK) // another process may have created it meanwhile
      status = js_KeyValue(&kv, js, bucket_.c_str());
  }
  if (status != NATS_OK)
    throw std::runtime_error("jetstream bus: cannot open or create key-value bucket '" + bucket_ +
                             "': " + nats_error(status));
  std::lock_guard lock(mutex_);
  kv_ = std::shared_ptr<kvStore>(kv, kvStore_Destroy);
}

void JetStreamKeyValue::unbind() {
  std::lock_guard lock(mutex_);
  kv_.reset();
}

std::shared_ptr<kvStore> JetStreamKeyValue::store() const {
  std::lock_guard lock(mutex_);
  return kv_;
}

KeyValue::Result JetStreamKeyValue::create(const std::string &key, const std::string &value,
                                           std::string &existing, uint64_t &revision) {
  auto kv = store();
  if (!kv)
    return Result::unavailable;
  natsStatus status =
      kvStore_Create(&revision, kv.get(), key.c_str(), value.data(), static_cast<int>(value.size()));
  if (status == NATS_OK)
    return Result::ok;
  if (status != NATS_ERR) // a timeout or a lost connection, not the server refusing the write
    return Result::unavailable;
  Result found = read(kv.get(), key, existing, revision);
  return found == Result::ok ? Result::exists : Result::unavailable;
}

KeyValue::Result JetStreamKeyValue::get(const std::string &key, std::string &value, uint64_t &revision) {
  auto kv = store();
  return kv ? read(kv.get(), key, value, revision) : Result::unavailable;
}

KeyValue::Result JetStreamKeyValue::update(const std::string &key, const std::string &value,
                                           uint64_t &revision) {
  auto kv = store();
  if (!kv)
    return Result::unavailable;
  uint64_t next = 0;
  natsStatus status =
      kvStore_Update(&next, kv.get(), key.c_str(), value.data(), static_cast<int>(value.size()), revision);
  if (status == NATS_OK) {
    revision = next;
    return Result::ok;
  }
  if (status != NATS_ERR)
    return Result::unavailable;
  std::string current;
  uint64_t at = 0;
  switch (read(kv.get(), key, current, at)) {
  case Result::ok:
    return at != revision ? Result::conflict : Result::unavailable;
  case Result::missing:
    return Result::missing;
  default:
    return Result::unavailable;
  }
}

KeyValue::Result JetStreamKeyValue::put(const std::string &key, const std::string &value) {
  auto kv = store();
  uint64_t revision = 0;
  return kv && kvStore_Put(&revision, kv.get(), key.c_str(), value.data(), static_cast<int>(value.size())) ==
                     NATS_OK
             ? Result::ok
             : Result::unavailable;
}

KeyValue::Result JetStreamKeyValue::erase(const std::string &key) {
  auto kv = store();
  if (!kv)
    return Result::unavailable;
  return kvStore_Delete(kv.get(), key.c_str()) == NATS_OK ? Result::ok : Result::unavailable;
}

std::optional<KeyValue::Result> JetStreamKeyValue::write_with_effects(const std::string &key,
                                                                      const std::string &value,
                                                                      bool only_if_absent, Then &&then) {
  if (!effect_writer_)
    return std::nullopt;
  return effect_writer_("$KV." + bucket_ + "." + key, value, only_if_absent, std::move(then));
}

} // namespace th
