// An HTTP/1.1 server on Boost.Beast: N io threads, keep-alive and pipelining (requests on one
// connection are answered in order), timeouts for idle connections and for slow headers and
// bodies, limits on header size and count, a body limit checked from Content-Length before the
// body is read and enforced while reading chunked bodies, and an optional TLS listener.
#pragma once

#include "gateway/router.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace th::gateway {

struct TlsOptions {
  std::string listen;    // "host:port" of the TLS listener
  std::string cert_file; // PEM certificate chain
  std::string key_file;  // PEM private key
};

// Half the cores, at least one: the other half run the pipeline's delivery threads. On 2 cores
// one io thread serves more webhooks/s than two, with a lower p99 (docs/gateway.md, benchmark).
inline int default_io_threads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2));
}

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8001"; // "host:port"; port 0 picks a free port
  int threads = default_io_threads();
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 * 1024;
  size_t max_headers = 100;
  std::chrono::milliseconds header_timeout{10'000}; // from the first byte of a request to its last header
  std::chrono::milliseconds body_timeout{30'000};   // to read the body after the headers
  std::chrono::milliseconds idle_timeout{60'000};   // keep-alive: waiting for the next request
  std::optional<TlsOptions> tls;
  size_t max_connections = 4096;             // open connections, all clients together
  size_t max_connections_per_client = 256;   // open connections from one peer address
  size_t max_inflight_body_bytes = 64 << 20; // bodies being read or handled, all connections

  // Called once a request's headers are complete, before its body is read: a response refuses
  // the request there (the body is never read; the connection is closed after the answer).
  std::function<std::optional<HttpResponse>(const HttpRequest &)> on_headers;
  // Peer addresses exempt from max_connections_per_client (trusted proxies carry many clients).
  std::function<bool(std::string_view address)> exempt_from_client_limit;

  // The 413 response (the gateway answers GW-008 with a corr_id); the default is a plain JSON error.
  std::function<HttpResponse(const HttpRequest &)> on_body_too_large;
  // Called after each response is queued: the matched route pattern, status, seconds taken.
  std::function<void(std::string_view route, int status, double seconds)> on_response;
};

class HttpServer {
public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer(); // stops
  HttpServer(const HttpServer &) = delete;
  HttpServer &operator=(const HttpServer &) = delete;

  // Add routes before start().
  Router &router();

  // Binds the listeners and starts the io threads. Throws std::runtime_error naming the address
  // (or the certificate file) when binding or loading fails.
  void start();
  // Closes the listeners and every connection, joins the threads. Idempotent.
  void stop();

  uint16_t port() const;     // the bound plain port (after start)
  uint16_t tls_port() const; // the bound TLS port, 0 without TLS

  struct Impl; // opaque; public so the connection code can name it

private:
  std::unique_ptr<Impl> impl_;
};

// "host:port" -> (host, port); throws std::invalid_argument naming the text.
std::pair<std::string, uint16_t> split_host_port(std::string_view listen);

} // namespace th::gateway
