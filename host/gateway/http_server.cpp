// Each io thread runs its own io_context and owns the connections handed to it, so a request is
// read, handled and answered on one thread: no strands, no shared scheduler lock, no wake-ups
// between io threads. Beast's basic_parser reads into buffers a connection keeps from request
// to request, and responses are written from one reused string, so a keep-alive request costs
// no allocation in the server once its buffers have grown. Timeouts are deadlines stored on the
// connection and checked by a sweep timer per thread: a timer per read or write would update the
// timer queue twice per request.
//
// Hostile clients: framing errors are answered (400/501) and the connection closed; a request
// refused before its body is read (by on_headers, a limit, or a framing error) is closed
// gracefully: the send side is shut down and what the client still sends is read and dropped
// for a short while, so the answer is not lost to a reset.
#include "gateway/http_server.hpp"

#include "observability/log.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace th::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = asio::ssl::stream<tcp::socket>;

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

namespace {

class Connection;

// One io thread with the connections it serves.
struct Worker {
  asio::io_context ioc{1};
  asio::steady_timer sweep{ioc};
  std::list<std::unique_ptr<Connection>> connections;
  std::thread thread;
};

class Connection {
public:
  virtual ~Connection() = default;
  virtual void start() = 0;
  // Closes the socket once the deadline has passed: the pending read or write then completes
  // with an error and the connection ends itself.
  virtual void expire() = 0;

  Clock::time_point deadline = Clock::time_point::max();
  std::list<std::unique_ptr<Connection>>::iterator self;
};

// The parts of one request, kept by the connection so their capacity is reused. Beast hands the
// parser views into the read buffer, which moves as it fills, so the parts are copied here.
struct RequestParts {
  std::string method, target, field_text, body;
  std::vector<std::array<uint32_t, 4>> field_spans; // name offset, length, value offset, length
  std::vector<HttpHeader> headers;
  bool expect_continue = false;
  bool too_many_headers = false;
  int version = 11;
  size_t host_count = 0;
  int refusal_status = 0; // a framing refusal found while parsing (400, 501) with its detail
  const char *refusal = "";

  void clear() {
    method.clear();
    target.clear();
    field_text.clear();
    body.clear();
    field_spans.clear();
    headers.clear();
    expect_continue = too_many_headers = false;
    version = 11;
    host_count = 0;
    refusal_status = 0;
    refusal = "";
  }
  void refuse(int status, const char *detail) {
    if (!refusal_status) {
      refusal_status = status;
      refusal = detail;
    }
  }
};

// Transfer-Encoding as this server implements it: chunked alone (optional whitespace around it).
bool is_chunked_only(beast::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    value.remove_suffix(1);
  return beast::iequals(value, "chunked");
}

class RequestParser final : public http::basic_parser<true> {
public:
  RequestParser(RequestParts &parts, size_t max_headers) : parts_(parts), max_headers_(max_headers) {}

private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target, int version,
                       beast::error_code &) override {
    parts_.version = version;
    parts_.method.assign(method.data(), method.size());
    parts_.target.assign(target.data(), target.size());
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code &ec) override {
    ec = http::error::bad_method; // a request parser never sees a status line
  }
  void on_field_impl(http::field name, beast::string_view name_text, beast::string_view value,
                     beast::error_code &ec) override {
    if (parts_.field_spans.size() == max_headers_) {
      parts_.too_many_headers = true;
      ec = http::error::header_limit;
      return;
    }
    if (name == http::field::expect && beast::iequals(value, "100-continue"))
      parts_.expect_continue = true;
    if (name == http::field::host)
      ++parts_.host_count;
    // Beast frames an unknown coding by Content-Length (or reads to EOF): a proxy that honours the
    // coding would frame the stream differently, so refuse it (RFC 9112 6.1).
    if (name == http::field::transfer_encoding && !is_chunked_only(value)) {
      parts_.refuse(501, "unsupported Transfer-Encoding: only chunked is implemented");
      ec = http::error::bad_transfer_encoding;
      return;
    }
    auto &text = parts_.field_text;
    auto at = static_cast<uint32_t>(text.size());
    text.append(name_text.data(), name_text.size());
    text.append(value.data(), value.size());
    parts_.field_spans.push_back({at, static_cast<uint32_t>(name_text.size()),
                                  static_cast<uint32_t>(at + name_text.size()),
                                  static_cast<uint32_t>(value.size())});
  }
  void on_header_impl(beast::error_code &ec) override {
    if (parts_.host_count > 1)
      parts_.refuse(400, "more than one Host header");
    else if (parts_.host_count == 0 && parts_.version >= 11)
      parts_.refuse(400, "an HTTP/1.1 request needs a Host header");
    if (parts_.refusal_status)
      ec = http::error::bad_field;
  }
  void on_body_init_impl(const boost::optional<std::uint64_t> &length, beast::error_code &) override {
    if (length) // within the body limit: Beast checked it before this call
      parts_.body.reserve(static_cast<size_t>(*length));
  }
  size_t on_body_impl(beast::string_view data, beast::error_code &) override {
    parts_.body.append(data.data(), data.size());
    return data.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code &) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view data, beast::error_code &) override {
    parts_.body.append(data.data(), data.size());
    return data.size();
  }
  void on_finish_impl(beast::error_code &) override {}

  RequestParts &parts_;
  size_t max_headers_;
};

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

tcp::socket &lowest(tcp::socket &s) {
  return s;
}
tcp::socket &lowest(TlsStream &s) {
  return s.next_layer();
}

void append_number(std::string &out, uint64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

} // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  Router router;
  std::vector<std::unique_ptr<Worker>> workers;
  std::optional<asio::ssl::context> ssl;
  std::optional<tcp::acceptor> acceptor;
  std::optional<tcp::acceptor> tls_acceptor;
  std::atomic<bool> running{false};
  size_t next_worker = 0; // used by the accepting thread only
  std::chrono::milliseconds sweep_interval{100};
  uint16_t port = 0, tls_port = 0;

  std::atomic<size_t> inflight_body_bytes{0};
  std::mutex clients_mutex; // guards the connection counts (touched at accept and close only)
  size_t open_connections = 0;
  std::unordered_map<std::string, size_t> connections_per_client;
  // Accepting backs off while descriptors run out ([0] plain, [1] TLS); on the first worker's io_context.
  std::optional<asio::steady_timer> accept_backoff[2];
  std::chrono::milliseconds accept_delay[2]{};

  explicit Impl(HttpServerOptions o) : options(std::move(o)) {}

  tcp::acceptor open(const std::string &listen) {
    auto [host, port_number] = split_host_port(listen);
    asio::io_context &ioc = workers.front()->ioc;
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
  void back_off(tcp::acceptor &acceptor, bool tls, const boost::system::error_code &why);
  void sweep(Worker &worker);

  // Counts a new connection unless a limit is reached (then it is answered 503 and closed).
  bool admit(const std::string &client) {
    std::lock_guard lock(clients_mutex);
    if (open_connections >= options.max_connections)
      return false;
    bool exempt = options.exempt_from_client_limit && options.exempt_from_client_limit(client);
    auto &mine = connections_per_client[client];
    if (!exempt && mine >= options.max_connections_per_client) {
      if (mine == 0)
        connections_per_client.erase(client);
      return false;
    }
    ++mine;
    ++open_connections;
    return true;
  }
  void release(const std::string &client) {
    std::lock_guard lock(clients_mutex);
    --open_connections;
    auto it = connections_per_client.find(client);
    if (it != connections_per_client.end() && --it->second == 0)
      connections_per_client.erase(it);
  }
};

namespace {

template <class Stream> class Session final : public Connection {
public:
  Session(HttpServer::Impl &server, Worker &worker, Stream stream, std::string client, bool admitted)
      : server_(server), worker_(worker), stream_(std::move(stream)), client_(std::move(client)),
        admitted_(admitted) {}
  ~Session() override {
    release_body();
    if (admitted_)
      server_.release(client_);
  }

  void start() override {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      deadline = Clock::now() + options().header_timeout;
      stream_.async_handshake(asio::ssl::stream_base::server, [this](beast::error_code ec) {
        if (ec)
          return end();
        admitted_ ? wait_for_request() : refuse_connection();
      });
    } else {
      admitted_ ? wait_for_request() : refuse_connection();
    }
  }

  void expire() override {
    deadline = Clock::time_point::max();
    beast::error_code ignored;
    lowest(stream_).close(ignored);
  }

private:
  const HttpServerOptions &options() const { return server_.options; }

  // Between requests the connection may sit idle; once the first byte of a request arrives the
  // whole header must follow within header_timeout (a stalled client is closed).
  void wait_for_request() {
    parser_.reset();
    if (end_ > begin_)
      return parse();
    deadline = Clock::now() + options().idle_timeout;
    read_more();
  }

  void read_more() {
    if (begin_ == end_)
      begin_ = end_ = 0;
    if (input_.size() - end_ < min_read) {
      input_.erase(0, begin_); // keep only what is not parsed yet
      end_ -= begin_;
      begin_ = 0;
      if (input_.size() - end_ < min_read)
        input_.resize(std::max(input_.size() * 2, end_ + min_read));
    }
    stream_.async_read_some(asio::buffer(input_.data() + end_, input_.size() - end_),
                            [this](beast::error_code ec, size_t n) {
                              if (ec)
                                return end();
                              end_ += n;
                              parse();
                            });
  }

  void parse() {
    if (!parser_) {
      parts_.clear();
      if (parts_.body.capacity() > retained_body_bytes)
        parts_.body.shrink_to_fit(); // one large body does not pin its memory to the connection
      parser_.emplace(parts_, options().max_headers);
      parser_->header_limit(static_cast<uint32_t>(options().max_header_bytes));
      parser_->body_limit(options().max_body_bytes);
      parser_->eager(true);
      started_ = Clock::now();
      deadline = started_ + options().header_timeout;
      header_seen_ = false;
    }
    beast::error_code ec;
    while (!parser_->is_done() && end_ > begin_) {
      size_t used = parser_->put(asio::buffer(input_.data() + begin_, end_ - begin_), ec);
      begin_ += used;
      if (ec || used == 0)
        break;
    }
    if (ec == http::error::header_limit)
      return reply_simple(431,
                          parts_.too_many_headers ? "too many request headers" : "request headers too large");
    // Beast checks Content-Length against the body limit as the header ends.
    if (ec == http::error::body_limit)
      return reply_too_large();
    if (ec && ec != http::error::need_more) {
      if (parts_.refusal_status)
        return reply_simple(parts_.refusal_status, parts_.refusal);
      return reply_simple(400, "malformed HTTP request: " + ec.message());
    }
    if (parser_->is_header_done() && !header_seen_) {
      header_seen_ = true;
      deadline = Clock::now() + options().body_timeout;
      if (options().on_headers) {
        HttpRequest request = view();
        request.body = {};
        if (auto refusal = options().on_headers(request)) {
          refusal->close = true; // the body is never read
          return write(*refusal, false, server_.router.pattern_of(request.method, request.path));
        }
      }
      if (auto length = parser_->content_length(); length && !reserve_body(static_cast<size_t>(*length)))
        return reply_busy();
      if (!parser_->is_done() && parts_.expect_continue)
        return write_continue();
    }
    if (parts_.body.size() > reserved_ && !reserve_body(parts_.body.size())) // chunked: as it grows
      return reply_busy();
    if (parser_->is_done())
      return respond();
    read_more();
  }

  // Counts the body towards the server's in-flight bytes; false (nothing counted) over the cap.
  bool reserve_body(size_t total) {
    if (total <= reserved_)
      return true;
    size_t more = total - reserved_;
    auto &inflight = server_.inflight_body_bytes;
    if (inflight.fetch_add(more, std::memory_order_relaxed) + more > options().max_inflight_body_bytes) {
      inflight.fetch_sub(more, std::memory_order_relaxed);
      return false;
    }
    reserved_ = total;
    return true;
  }
  void release_body() {
    if (reserved_)
      server_.inflight_body_bytes.fetch_sub(reserved_, std::memory_order_relaxed);
    reserved_ = 0;
  }

  void reply_busy() {
    auto response = json_error(503, "server busy: too many request bodies in flight; retry");
    response.headers.emplace_back("Retry-After", "1");
    response.close = true;
    write(response, false, "other");
  }

  // Over a connection limit: one 503, then a graceful close.
  void refuse_connection() {
    auto response = json_error(503, "server busy: too many connections; retry");
    response.headers.emplace_back("Retry-After", "1");
    response.close = true;
    write(response, false, "other");
  }

  void write_continue() {
    output_ = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(output_), [this](beast::error_code ec, size_t) {
      if (ec)
        return end();
      read_more();
    });
  }

  HttpRequest view() {
    HttpRequest r;
    r.method = parts_.method;
    r.target = parts_.target;
    r.path = r.target.substr(0, r.target.find('?'));
    r.body = parts_.body;
    r.client_address = client_;
    std::string_view text = parts_.field_text;
    parts_.headers.clear();
    for (auto [name_at, name_size, value_at, value_size] : parts_.field_spans)
      parts_.headers.push_back({text.substr(name_at, name_size), text.substr(value_at, value_size)});
    r.headers = parts_.headers;
    return r;
  }

  void respond() {
    HttpRequest request = view();
    HttpResponse response;
    try {
      response = server_.router.dispatch(request);
    } catch (const std::exception &e) {
      log::error("http_handler_failed", {{"path", std::string(request.path)}, {"error", e.what()}});
      response = json_error(500, "internal error");
    }
    release_body(); // handled: the body is no longer in flight
    write(response, parser_->keep_alive(), server_.router.pattern_of(request.method, request.path));
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
    write(response, false, server_.router.pattern_of(request.method, request.path));
  }

  void reply_simple(int status, std::string_view detail) {
    auto response = json_error(status, detail);
    response.close = true;
    write(response, false, "other");
  }

  void write(const HttpResponse &response, bool keep_alive, std::string_view route) {
    keep_alive_ = keep_alive && !response.close;
    // Closed by the server with input possibly unread: close gracefully.
    linger_ = response.close;
    output_.assign("HTTP/1.1 ");
    append_number(output_, static_cast<unsigned>(response.status));
    output_ += ' ';
    auto reason = http::obsolete_reason(static_cast<http::status>(response.status));
    output_.append(reason.data(), reason.size());
    output_ += "\r\nContent-Type: ";
    output_ += response.content_type;
    for (const auto &[name, value] : response.headers) {
      output_ += "\r\n";
      output_ += name;
      output_ += ": ";
      output_ += value;
    }
    if (!keep_alive_)
      output_ += "\r\nConnection: close";
    output_ += "\r\nContent-Length: ";
    append_number(output_, response.body.size());
    output_ += "\r\n\r\n";
    output_ += response.body;
    if (options().on_response)
      options().on_response(route, response.status,
                            std::chrono::duration<double>(Clock::now() - started_).count());
    deadline = Clock::now() + options().body_timeout;
    asio::async_write(stream_, asio::buffer(output_), [this](beast::error_code ec, size_t) {
      if (!ec && linger_)
        return linger();
      if (ec || !keep_alive_)
        return end();
      wait_for_request();
    });
  }

  // Shuts the send side (the client sees the end of the answer) and reads and drops what the
  // client still sends until it closes or a short deadline passes, so closing does not reset
  // the connection before the client has read the answer.
  void linger() {
    release_body();
    beast::error_code ignored;
    lowest(stream_).shutdown(tcp::socket::shutdown_send, ignored);
    deadline = Clock::now() + std::min<std::chrono::milliseconds>(options().header_timeout, linger_time);
    if (input_.size() < min_read)
      input_.resize(min_read);
    drain();
  }
  void drain() {
    stream_.async_read_some(asio::buffer(input_.data(), input_.size()), [this](beast::error_code ec, size_t) {
      if (ec)
        return end();
      drain();
    });
  }

  // The last thing a handler does: this object is destroyed here.
  void end() {
    beast::error_code ignored;
    auto &socket = lowest(stream_);
    if (socket.is_open()) {
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    }
    worker_.connections.erase(self);
  }

  static constexpr size_t min_read = 4096;
  static constexpr size_t retained_body_bytes = 64 * 1024;
  static constexpr std::chrono::milliseconds linger_time{1000};

  HttpServer::Impl &server_;
  Worker &worker_;
  Stream stream_;
  std::string client_;
  std::string input_; // [begin_, end_) read but not parsed yet
  size_t begin_ = 0, end_ = 0;
  RequestParts parts_;
  std::optional<RequestParser> parser_;
  bool header_seen_ = false;
  std::string output_;
  bool keep_alive_ = false;
  bool linger_ = false;
  bool admitted_;       // counted in the server's connection totals
  size_t reserved_ = 0; // this request's bytes in HttpServer::Impl::inflight_body_bytes
  Clock::time_point started_ = Clock::now();
};

template <class Stream>
void adopt(HttpServer::Impl &server, Worker &worker, Stream stream, std::string client, bool admitted) {
  auto &slot = worker.connections.emplace_front();
  slot = std::make_unique<Session<Stream>>(server, worker, std::move(stream), std::move(client), admitted);
  slot->self = worker.connections.begin();
  slot->start();
}

} // namespace

void HttpServer::Impl::accept(tcp::acceptor &acceptor, bool tls) {
  Worker &worker = *workers[next_worker];
  next_worker = (next_worker + 1) % workers.size();
  // The socket belongs to the worker that will serve it; this handler runs on the accepting one.
  acceptor.async_accept(
      worker.ioc, [this, &acceptor, &worker, tls](beast::error_code ec, tcp::socket socket) {
        if (!running || ec == asio::error::operation_aborted)
          return;
        if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
            ec == asio::error::no_buffer_space || ec == asio::error::no_memory)
          return back_off(acceptor, tls, ec); // retrying at once would spin: the backlog stays ready
        if (!ec) {
          accept_delay[tls] = std::chrono::milliseconds(0);
          socket.set_option(tcp::no_delay(true), ec);
          std::string client = peer_address(socket);
          bool admitted = admit(client);
          asio::post(worker.ioc, [this, &worker, tls, admitted, socket = std::move(socket),
                                  client = std::move(client)]() mutable {
            if (tls)
              adopt(*this, worker, TlsStream(std::move(socket), *ssl), std::move(client), admitted);
            else
              adopt(*this, worker, std::move(socket), std::move(client), admitted);
          });
        }
        accept(acceptor, tls);
      });
}

void HttpServer::Impl::back_off(tcp::acceptor &acceptor, bool tls, const boost::system::error_code &why) {
  auto &delay = accept_delay[tls];
  if (delay.count() == 0)
    log::warn("http_accept_backoff", {{"error", why.message()}, {"open_connections", [this] {
                                                                   std::lock_guard lock(clients_mutex);
                                                                   return open_connections;
                                                                 }()}});
  // 10 ms doubling to 1 s: existing connections are served meanwhile and free descriptors.
  delay = std::clamp(delay * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  auto &timer = accept_backoff[tls];
  if (!timer)
    timer.emplace(acceptor.get_executor());
  timer->expires_after(delay);
  timer->async_wait([this, &acceptor, tls](beast::error_code ec) {
    if (!ec && running)
      accept(acceptor, tls);
  });
}

void HttpServer::Impl::sweep(Worker &worker) {
  worker.sweep.expires_after(sweep_interval);
  worker.sweep.async_wait([this, &worker](beast::error_code ec) {
    if (ec || !running)
      return;
    auto now = Clock::now();
    for (auto &connection : worker.connections)
      if (connection->deadline <= now)
        connection->expire();
    sweep(worker);
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
  int n = std::max(1, i.options.threads);
  for (int t = 0; t < n; ++t)
    i.workers.push_back(std::make_unique<Worker>());
  // Deadlines are checked a few times per shortest timeout.
  auto shortest = std::min({i.options.header_timeout, i.options.body_timeout, i.options.idle_timeout});
  i.sweep_interval = std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
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
  for (auto &worker : i.workers) {
    i.sweep(*worker);
    worker->thread = std::thread([&w = *worker] { w.ioc.run(); });
  }
}

void HttpServer::stop() {
  auto &i = *impl_;
  if (!i.running.exchange(false))
    return;
  for (auto &worker : i.workers)
    worker->ioc.stop(); // open connections are dropped with the io_context's pending handlers
  for (auto &worker : i.workers)
    if (worker->thread.joinable())
      worker->thread.join();
  boost::system::error_code ignored;
  for (auto &timer : i.accept_backoff)
    timer.reset();
  if (i.acceptor)
    i.acceptor->close(ignored);
  if (i.tls_acceptor)
    i.tls_acceptor->close(ignored);
  // Connections close their sockets while their io_context still exists; pending handlers hold
  // plain pointers and are destroyed, never run, with the io_context.
  for (auto &worker : i.workers)
    worker->connections.clear();
  i.acceptor.reset();
  i.tls_acceptor.reset();
  i.workers.clear();
}

uint16_t HttpServer::port() const {
  return impl_->port;
}
uint16_t HttpServer::tls_port() const {
  return impl_->tls_port;
}

} // namespace th::gateway
