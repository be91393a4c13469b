// KeyValue over a JetStream key-value bucket (nats.c kvStore). The bus declares it before
// start() and binds it to its JetStream context once connected; until then, and after the bus
// stops, every operation answers unavailable.
#pragma once

#include "bus/key_value.hpp"

#include <chrono>
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

private:
  std::shared_ptr<kvStore> store() const;

  std::string bucket_;
  std::chrono::seconds ttl_;
  int replicas_;
  mutable std::mutex mutex_;
  std::shared_ptr<kvStore> kv_; // an operation holds its own reference: unbind() may run meanwhile
};

} // namespace th
