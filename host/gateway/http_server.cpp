#include "gateway/http_server.hpp"

#include "observability/log.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <charconv>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace th::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
// Connections use a concrete strand type rather than any_io_executor: cheaper per operation.
using Strand = asio::strand<asio::io_context::executor_type>;
using StrandSocket = tcp::socket::rebind_executor<Strand>::other;
using TcpStream = beast::basic_stream<tcp, Strand>;
using TlsStream = beast::ssl_stream<TcpStream>;

std::pair<std::string, uint16_t> split_host_port(std::string_view listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string_view::npos)
    throw std::invalid_argument("listen address '" + std::string(listen) + "' has no :port");
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty())
    host = "0.0.0.0";
  auto port_text = listen.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    throw std::invalid_argument("listen address '" + std::string(listen) + "' has a bad port");
  return {host, static_cast<uint16_t>(port)};
}

struct HttpServer::Impl {
  HttpServerOptions options;
  Router router;
  asio::io_context ioc;
  std::optional<asio::ssl::context> ssl;
  std::optional<tcp::acceptor> acceptor;
  std::optional<tcp::acceptor> tls_acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> running{false};
  uint16_t port = 0, tls_port = 0;

  explicit Impl(HttpServerOptions o) : options(std::move(o)) {}

  tcp::acceptor open(const std::string &listen) {
    auto [host, port_number] = split_host_port(listen);
    tcp::resolver resolver(ioc);
    boost::system::error_code ec;
    auto results = resolver.resolve(host, std::to_string(port_number), tcp::resolver::numeric_service, ec);
    if (ec || results.empty())
      throw std::runtime_error("cannot resolve listen address '" + listen + "': " + ec.message());
    tcp::endpoint endpoint = results.begin()->endpoint();
    tcp::acceptor a(ioc);
    a.open(endpoint.protocol(), ec);
    if (!ec)
      a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
      a.bind(endpoint, ec);
    if (!ec)
      a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("cannot listen on '" + listen + "': " + ec.message());
    return a;
  }

  void accept(tcp::acceptor &acceptor, bool tls);
};

namespace {

template <class Socket> std::string peer_address(const Socket &socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec)
    return "";
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  return address.to_string();
}

template <class Stream> class Session : public std::enable_shared_from_this<Session<Stream>> {
public:
  Session(HttpServer::Impl &server, Stream stream, std::string client)
      : server_(server), stream_(std::move(stream)), client_(std::move(client)) {}

  void start() {
    if constexpr (std::is_same_v<Stream, TcpStream>) {
      wait_for_request();
    } else {
      lowest().expires_after(server_.options.header_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec)
                                  return self->close();
                                self->wait_for_request();
                              });
    }
  }

private:
  TcpStream &lowest() { return beast::get_lowest_layer(stream_); }
  const HttpServerOptions &options() const { return server_.options; }

  // Between requests the connection may sit idle; once the first byte of a request arrives the
  // whole header must follow within header_timeout (a stalled client is closed).
  void wait_for_request() {
    if (buffer_.size() > 0)
      return read_header();
    lowest().expires_after(options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec)
                                return self->close();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    started_ = Clock::now();
    lowest().expires_after(options().header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec == http::error::header_limit)
      return reply_simple(431, "request headers too large");
    // Beast checks Content-Length against the body limit while parsing the header.
    if (ec == http::error::body_limit)
      return reply_too_large();
    if (ec)
      return close();
    const auto &request = parser_->get();
    size_t count = 0;
    for (auto it = request.begin(); it != request.end(); ++it)
      ++count;
    if (count > options().max_headers)
      return reply_simple(431, "too many request headers");
    auto length = parser_->content_length();
    if (length && *length > options().max_body_bytes)
      return reply_too_large();
    if (beast::iequals(request[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, 11);
      lowest().expires_after(options().body_timeout);
      return http::async_write(stream_, *continue_,
                               [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                 if (ec)
                                   return self->close();
                                 self->read_body();
                               });
    }
    read_body();
  }

  void read_body() {
    lowest().expires_after(options().body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  HttpRequest view() const {
    const auto &request = parser_->get();
    HttpRequest r;
    r.method = std::string_view(request.method_string().data(), request.method_string().size());
    r.target = std::string_view(request.target().data(), request.target().size());
    r.path = r.target.substr(0, r.target.find('?'));
    r.body = request.body();
    r.client_address = client_;
    r.fields = &request.base();
    return r;
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::body_limit)
      return reply_too_large();
    if (ec)
      return close();
    HttpRequest request = view();
    HttpResponse response;
    try {
      response = server_.router.dispatch(request);
    } catch (const std::exception &e) {
      log::error("http_handler_failed", {{"path", std::string(request.path)}, {"error", e.what()}});
      response = json_error(500, "internal error");
    }
    write(std::move(response), parser_->get().keep_alive(),
          server_.router.pattern_of(request.method, request.path));
  }

  void reply_too_large() {
    HttpResponse response;
    HttpRequest request = view();
    request.body = {};
    if (options().on_body_too_large)
      response = options().on_body_too_large(request);
    else
      response = json_error(413, "GW-008: request body too large");
    response.close = true; // the rest of the body is never read
    write(std::move(response), false, server_.router.pattern_of(request.method, request.path));
  }

  void reply_simple(int status, std::string_view detail) {
    auto response = json_error(status, detail);
    response.close = true;
    write(std::move(response), false, "other");
  }

  void write(HttpResponse response, bool keep_alive, std::string_view route) {
    keep_alive_ = keep_alive && !response.close;
    response_.emplace();
    response_->version(11);
    response_->result(static_cast<unsigned>(response.status));
    response_->set(http::field::content_type, response.content_type);
    for (auto &[name, value] : response.headers)
      response_->set(name, value);
    response_->body() = std::move(response.body);
    response_->keep_alive(keep_alive_);
    response_->prepare_payload();
    if (options().on_response)
      options().on_response(route, response.status,
                            std::chrono::duration<double>(Clock::now() - started_).count());
    lowest().expires_after(options().body_timeout);
    http::async_write(stream_, *response_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->keep_alive_)
        return self->close();
      self->response_.reset();
      self->wait_for_request();
    });
  }

  void close() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  HttpServer::Impl &server_;
  Stream stream_;
  std::string client_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  bool keep_alive_ = false;
  Clock::time_point started_ = Clock::now();
};

} // namespace

void HttpServer::Impl::accept(tcp::acceptor &acceptor, bool tls) {
  acceptor.async_accept(asio::make_strand(ioc.get_executor()), [this, &acceptor, tls](beast::error_code ec,
                                                                                      StrandSocket socket) {
    if (!running)
      return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::string client = peer_address(socket);
      if (tls) {
        std::make_shared<Session<TlsStream>>(*this, TlsStream(TcpStream(std::move(socket)), *ssl),
                                             std::move(client))
            ->start();
      } else {
        std::make_shared<Session<TcpStream>>(*this, TcpStream(std::move(socket)), std::move(client))->start();
      }
    }
    accept(acceptor, tls);
  });
}

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() {
  stop();
}

Router &HttpServer::router() {
  return impl_->router;
}

void HttpServer::start() {
  auto &i = *impl_;
  if (i.running)
    return;
  i.acceptor.emplace(i.open(i.options.listen));
  i.port = i.acceptor->local_endpoint().port();
  if (i.options.tls) {
    i.ssl.emplace(asio::ssl::context::tls_server);
    i.ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    i.ssl->use_certificate_chain_file(i.options.tls->cert_file, ec);
    if (ec)
      throw std::runtime_error("cannot load TLS certificate '" + i.options.tls->cert_file +
                               "': " + ec.message());
    i.ssl->use_private_key_file(i.options.tls->key_file, asio::ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("cannot load TLS key '" + i.options.tls->key_file + "': " + ec.message());
    i.tls_acceptor.emplace(i.open(i.options.tls->listen));
    i.tls_port = i.tls_acceptor->local_endpoint().port();
  }
  i.running = true;
  i.accept(*i.acceptor, false);
  if (i.tls_acceptor)
    i.accept(*i.tls_acceptor, true);
  int n = std::max(1, i.options.threads);
  for (int t = 0; t < n; ++t)
    i.threads.emplace_back([&i] { i.ioc.run(); });
}

void HttpServer::stop() {
  auto &i = *impl_;
  if (!i.running.exchange(false))
    return;
  i.ioc.stop(); // open connections are dropped with the io_context's pending handlers
  for (auto &t : i.threads)
    t.join();
  i.threads.clear();
  boost::system::error_code ignored;
  if (i.acceptor)
    i.acceptor->close(ignored);
  if (i.tls_acceptor)
    i.tls_acceptor->close(ignored);
}

uint16_t HttpServer::port() const {
  return impl_->port;
}
uint16_t HttpServer::tls_port() const {
  return impl_->tls_port;
}

} // namespace th::gateway
