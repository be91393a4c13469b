// KeyValue over a JetStream key-value bucket (nats.c kvStore). The bus declares it before
// start() and binds it to its JetStream context once connected; until then, and after the bus
// stops, every operation answers unavailable.
#pragma once

#include "bus/key_value.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nats/nats.h>
#include <string>

namespace th {

class JetStreamKeyValue final : public KeyValue {
public:
  JetStreamKeyValue(std::string bucket, std::chrono::seconds ttl, int replicas)
      : bucket_(std::move(bucket)), ttl_(ttl), replicas_(replicas) {}
  ~JetStreamKeyValue() override { unbind(); }

  // Opens the bucket, creating it when absent. Throws std::runtime_error naming the server's error.
  void bind(jsCtx *js);
  void unbind();
  const std::string &bucket() const { return bucket_; }

  Result create(const std::string &key, const std::string &value, std::string &existing,
                uint64_t &revision) override;
  Result get(const std::string &key, std::string &value, uint64_t &revision) override;
  Result update(const std::string &key, const std::string &value, uint64_t &revision) override;
  Result put(const std::string &key, const std::string &value) override;
  Result erase(const std::string &key) override;
  std::optional<Result> write_with_effects(const std::string &key, const std::string &value,
                                           bool only_if_absent, Then &&then = {}) override;

  // How the bus sends a write as an effect of the delivery being handled on this thread
  // (subject "$KV.{bucket}.{key}"); it answers nullopt outside such a handler.
  using EffectWriter = std::function<std::optional<Result>(
      const std::string &subject, const std::string &value, bool only_if_absent, Then then)>;
  void set_effect_writer(EffectWriter writer) { effect_writer_ = std::move(writer); }

private:
  std::shared_ptr<kvStore> store() const;

  std::string bucket_;
  std::chrono::seconds ttl_;
  int replicas_;
  mutable std::mutex mutex_;
  EffectWriter effect_writer_;  // set before start, read only afterwards
  std::shared_ptr<kvStore> kv_; // an operation holds its own reference: unbind() may run meanwhile
};

} // namespace th
