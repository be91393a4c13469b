// A gateway on a loopback ephemeral port over the real embedded bus, with a collector that
// records what was published, a clock the test can move, and small HTTP helpers.
#pragma once

#include "bus/embedded_bus.hpp"
#include "events/json_codec.hpp"
#include "gateway/crypto.hpp"
#include "gateway/gateway.hpp"
#include "gateway/webhook_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace th::gateway::testing {

using nlohmann::json;

// The embedded bus, with a switch that makes publish() answer unavailable (a bus outage).
class SwitchableBus : public Bus {
public:
  explicit SwitchableBus(std::unique_ptr<Bus> inner) : inner_(std::move(inner)) {}
  void subscribe(const SubscriptionSpec &spec, Handler handler) override {
    inner_->subscribe(spec, std::move(handler));
  }
  void start() override { inner_->start(); }
  PublishStatus publish(const Message &m, std::chrono::milliseconds timeout) override {
    if (down)
      return PublishStatus::unavailable;
    if (dedup) { // like JetStream's Nats-Msg-Id window
      std::lock_guard lock(ids_mutex_);
      if (!ids_.insert(m.msg_id).second)
        return PublishStatus::duplicate;
    }
    auto status = inner_->publish(m, timeout);
    if (lose_ack) // stored, but the confirmation is lost (a stream leader dying before its PubAck)
      return PublishStatus::unavailable;
    return status;
  }
  bool wait_idle(std::chrono::milliseconds timeout) override { return inner_->wait_idle(timeout); }
  void stop() override { inner_->stop(); }
  BusHealth health() const override { return inner_->health(); }
  std::atomic<bool> down{false};
  std::atomic<bool> lose_ack{false};
  std::atomic<bool> dedup{false};

private:
  std::unique_ptr<Bus> inner_;
  std::mutex ids_mutex_;
  std::set<std::string> ids_;
};

inline int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string schema_path() {
  return std::string(TRADEHOST_SOURCE_DIR) + "/schemas/signal.schema.json";
}

// A gateway section with an hmac source "test" and short timeouts; tests add to it.
inline json base_config() {
  return json{{"listen", "127.0.0.1:0"},        {"threads", 2},
              {"header_timeout_ms", 300},       {"idle_timeout_ms", 5000},
              {"signal_schema", schema_path()}, {"sources", {{"test", {{"secrets", {"s3cret-current"}}}}}}};
}

inline std::string valid_body(double strength = 0.8) {
  return json{{"instrument", "BTC/USDT"}, {"price", 42000.5}, {"signal", "buy"}, {"strength", strength}}
      .dump();
}

class GatewayUnderTest {
public:
  explicit GatewayUnderTest(const json &section, std::function<HealthReport()> health = {}) {
    bus = std::make_unique<SwitchableBus>(make_embedded_bus());
    bus->subscribe({"test-collector", {Subject::signals_normalized, Subject::audit_event}},
                   [this](const Delivery &d) {
                     std::lock_guard lock(mutex_);
                     messages_.push_back(d.message);
                   });
    bus->start();
    GatewayOptions options;
    options.health = std::move(health);
    options.version = "test";
    options.clock.steady = [this] {
      return steady_base_ + std::chrono::milliseconds(steady_offset_ms.load());
    };
    gateway = std::make_unique<Gateway>(parse_gateway_config(section, {}), *bus, metrics, options);
  }
  ~GatewayUnderTest() {
    gateway->stop();
    bus->stop();
  }
  void start() { gateway->start(); }

  std::string url(const std::string &path) const {
    return "http://127.0.0.1:" + std::to_string(gateway->port()) + path;
  }

  ClientResponse post_signed(const std::string &source, const std::string &body, const std::string &secret,
                             HeaderList extra = {}, int64_t timestamp = unix_now()) {
    auto headers = sign_webhook(secret, body, timestamp);
    headers.insert(headers.end(), extra.begin(), extra.end());
    return http_request("POST", url("/webhook/" + source), body, headers);
  }

  // Every message published so far, once the bus has delivered them.
  std::vector<Message> published() {
    EXPECT_TRUE(bus->wait_idle(std::chrono::seconds(5)));
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::vector<Signal> signals() {
    std::vector<Signal> out;
    for (auto &m : published())
      if (m.subject == Subject::signals_normalized)
        out.push_back(std::get<Signal>(m.payload));
    return out;
  }
  std::vector<AuditRecord> audits() {
    std::vector<AuditRecord> out;
    for (auto &m : published())
      if (m.subject == Subject::audit_event)
        out.push_back(std::get<AuditRecord>(m.payload));
    return out;
  }

  // The value of one sample line of /metrics ("name{labels}"), -1 when absent.
  double metric(const std::string &sample) {
    std::istringstream lines(metrics.serialize());
    for (std::string line; std::getline(lines, line);)
      if (line.rfind(sample + " ", 0) == 0)
        return std::stod(line.substr(sample.size() + 1));
    return -1;
  }

  Metrics metrics;
  std::unique_ptr<SwitchableBus> bus;
  std::unique_ptr<Gateway> gateway;
  std::atomic<int64_t> steady_offset_ms{0};

private:
  std::chrono::steady_clock::time_point steady_base_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  std::vector<Message> messages_;
};

// The error body's parts: {"detail": "GW-00N: ...", "corr_id": ..., "errors": [...]}.
inline void expect_error(const ClientResponse &r, int status, const std::string &code) {
  EXPECT_EQ(r.status, status) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body.at("detail").get<std::string>().rfind(code + ": ", 0), 0u) << r.body;
  EXPECT_TRUE(std::regex_match(body.at("corr_id").get<std::string>(), std::regex("^[a-zA-Z0-9_-]{8,64}$")))
      << r.body;
  EXPECT_TRUE(body.at("errors").is_array()) << r.body;
  for (auto &e : body.at("errors")) {
    EXPECT_TRUE(e.at("field").is_string());
    EXPECT_TRUE(e.at("message").is_string());
  }
}

// Field names listed in an error body.
inline std::vector<std::string> error_fields(const ClientResponse &r) {
  std::vector<std::string> out;
  auto body = json::parse(r.body);
  for (auto &e : body.at("errors"))
    out.push_back(e.at("field").get<std::string>());
  return out;
}

// A raw connection for what a well-behaved client would not do (pipelining, stalls, chunks).
class RawConnection {
public:
  explicit RawConnection(uint16_t port) : socket_(ioc_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  }
  void send(std::string_view bytes) {
    boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size()));
  }
  // Makes read() throw when no byte arrives within `limit` (an answer that never comes).
  void set_read_timeout(std::chrono::milliseconds limit) {
    timeval tv{static_cast<time_t>(limit.count() / 1000),
               static_cast<suseconds_t>(limit.count() % 1000 * 1000)};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  // Reads one response; throws on a closed connection.
  boost::beast::http::response<boost::beast::http::string_body> read() {
    boost::beast::http::response<boost::beast::http::string_body> response;
    boost::beast::http::read(socket_, buffer_, response);
    return response;
  }
  // True when the server closes the connection within `within` (reads and discards until EOF).
  bool closed_within(std::chrono::milliseconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    socket_.non_blocking(true);
    char scratch[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      socket_.read_some(boost::asio::buffer(scratch), ec);
      if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset)
        return true;
      if (ec == boost::asio::error::would_block)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      else if (ec)
        return true;
    }
    return false;
  }

private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

// A signed request as raw HTTP/1.1 bytes (Content-Length framing).
inline std::string raw_signed_request(const std::string &source, const std::string &body,
                                      const std::string &secret) {
  std::string out =
      "POST /webhook/" + source + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
  for (auto &[k, v] : sign_webhook(secret, body, unix_now()))
    out += k + ": " + v + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return out;
}

// A temporary directory removed at the end of the test.
class TempDir {
public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() / ("th-gateway-" + random_hex(8));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string &name) const { return (path_ / name).string(); }

private:
  std::filesystem::path path_;
};

inline std::string read_text(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs a shell command, returning its stdout; exit status in *status.
inline std::string run_shell(const std::string &command, int *status = nullptr) {
  std::string out;
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe)
    return out;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, pipe)) > 0)
    out.append(chunk, n);
  int rc = pclose(pipe);
  if (status)
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

} // namespace th::gateway::testing
