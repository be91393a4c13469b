// Fuzz: the HTTP/1.1 request parser and framing (host/gateway/http_server), through the real
// server on loopback: each input is written as raw bytes on a fresh connection, the write side
// is shut, and everything the server answers is read until it closes. The io thread runs in this
// process, so its crashes and sanitizer reports are the fuzzer's.
#include "gateway/http_server.hpp"
#include "observability/log.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

namespace {

using namespace th::gateway;

HttpServer &server() {
  static std::unique_ptr<HttpServer> instance = [] {
    th::log::set_level(th::log::Level::error);
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = 1;
    options.max_body_bytes = 64 * 1024;
    options.header_timeout = options.body_timeout = options.idle_timeout = std::chrono::milliseconds(2000);
    auto s = std::make_unique<HttpServer>(options);
    s->router().add("POST", "/echo", [](const HttpRequest &r) {
      HttpResponse response;
      response.body = std::string(r.body);
      return response;
    });
    s->router().add_prefix("GET", "/", [](const HttpRequest &r) {
      HttpResponse response;
      response.body = std::string(r.header("Host"));
      return response;
    });
    s->start();
    return s;
  }();
  return *instance;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint16_t port = server().port();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    std::abort();
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0)
    std::abort(); // the server stopped accepting: a finding
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  for (size_t done = 0; done < size;) {
    ssize_t n = ::send(fd, data + done, size - done, MSG_NOSIGNAL);
    if (n <= 0)
      break; // the server may close early on bad framing
    done += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char buffer[4096];
  while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
  }
  ::close(fd);
  return 0;
}
