// A 3-node nats-server cluster on loopback (JetStream on every node), for tests that kill a
// node, typically the stream's leader, while real processes use the cluster.
#pragma once

#include "nats_server.hpp"

#include <nats/nats.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace th::test {

class NatsCluster {
public:
  NatsCluster() {
    std::vector<int> client_ports, route_ports;
    for (int i = 0; i < 3; ++i) {
      client_ports.push_back(free_loopback_port());
      route_ports.push_back(free_loopback_port());
    }
    for (int i = 0; i < 3; ++i) {
      std::string routes;
      for (int j = 0; j < 3; ++j)
        if (j != i)
          routes += (routes.empty() ? "" : ",") + ("nats://127.0.0.1:" + std::to_string(route_ports[j]));
      NatsServer::Options options;
      options.port = client_ports[i];
      options.start = false;
      options.extra_args = {"--server_name",  "n" + std::to_string(i + 1),
                            "--cluster_name", "th-test",
                            "--cluster",      "nats://127.0.0.1:" + std::to_string(route_ports[i]),
                            "--routes",       routes};
      nodes_.push_back(std::make_unique<NatsServer>(options));
    }
    // Started together: each waits for its own client port only.
    std::vector<std::thread> starters;
    for (auto &node : nodes_)
      starters.emplace_back([&node] { node->start(); });
    for (auto &starter : starters)
      starter.join();
  }

  NatsServer &node(int i) { return *nodes_.at(static_cast<size_t>(i)); }
  std::vector<std::string> urls() const {
    std::vector<std::string> out;
    for (const auto &node : nodes_)
      out.push_back(node->url());
    return out;
  }

  // True once JetStream answers on a running node (the cluster elected its meta leader).
  bool wait_for_jetstream(std::chrono::milliseconds timeout) {
    return poll(timeout, [&] {
      return with_jetstream([](jsCtx *js) {
        jsAccountInfo *info = nullptr;
        if (js_GetAccountInfo(&info, js, nullptr, nullptr) != NATS_OK)
          return false;
        jsAccountInfo_Destroy(info);
        return true;
      });
    });
  }

  // The index of the node leading `stream` (-1: none known now).
  int stream_leader(const std::string &stream) {
    int leader = -1;
    with_jetstream([&](jsCtx *js) {
      jsStreamInfo *info = nullptr;
      if (js_GetStreamInfo(&info, js, stream.c_str(), nullptr, nullptr) != NATS_OK)
        return false;
      if (info->Cluster && info->Cluster->Leader && info->Cluster->Leader[0] == 'n')
        leader = std::atoi(info->Cluster->Leader + 1) - 1;
      jsStreamInfo_Destroy(info);
      return true;
    });
    return leader >= 0 && leader < 3 ? leader : -1;
  }

private:
  template <class Condition> static bool poll(std::chrono::milliseconds timeout, Condition condition) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }

  // Runs `use` with a JetStream context on the first running node that accepts a connection.
  template <class Use> bool with_jetstream(Use use) {
    for (auto &node : nodes_) {
      if (!node->running())
        continue;
      natsConnection *nc = nullptr;
      jsCtx *js = nullptr;
      bool ok = natsConnection_ConnectTo(&nc, node->url().c_str()) == NATS_OK &&
                natsConnection_JetStream(&js, nc, nullptr) == NATS_OK && use(js);
      if (js)
        jsCtx_Destroy(js);
      if (nc)
        natsConnection_Destroy(nc);
      if (ok)
        return true;
    }
    return false;
  }

  std::vector<std::unique_ptr<NatsServer>> nodes_;
};

} // namespace th::test
