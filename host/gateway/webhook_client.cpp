#include "gateway/webhook_client.hpp"

#include "gateway/crypto.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <nlohmann/json.hpp>

namespace th::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string ClientResponse::header(std::string_view name) const {
  for (auto &[k, v] : headers)
    if (beast::iequals(k, name))
      return v;
  return "";
}

HeaderList sign_webhook(std::string_view secret, std::string_view body, int64_t unix_seconds) {
  std::string timestamp = std::to_string(unix_seconds);
  std::string nonce = random_hex(16);
  std::string signature = webhook_signature(secret, timestamp, nonce, body);
  return {{"X-Timestamp", timestamp}, {"X-Nonce", nonce}, {"X-Signature", signature}};
}

std::string with_passphrase(const SourceConfig &source, std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object())
    throw std::invalid_argument("the body must be a JSON object to carry a passphrase");
  if (source.passphrases.empty())
    throw std::invalid_argument("source '" + source.name + "' has no passphrase");
  json[source.passphrase_field] = source.passphrases.front();
  return json.dump();
}

ClientResponse http_request(const std::string &method, const std::string &url, std::string_view body,
                            const HeaderList &headers, std::chrono::milliseconds timeout) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    throw std::runtime_error("URL '" + url + "' is not http://");
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  std::string host = colon == std::string::npos ? authority : authority.substr(0, colon);
  std::string port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> request{http::string_to_verb(method), target, 11};
    request.set(http::field::host, authority);
    request.set(http::field::user_agent, "tradehost-send");
    if (!body.empty())
      request.set(http::field::content_type, "application/json");
    for (auto &[k, v] : headers)
      request.set(k, v);
    request.body() = std::string(body);
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    ClientResponse out;
    out.status = static_cast<int>(response.result_int());
    out.body = std::move(response.body());
    for (auto &field : response)
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    return out;
  } catch (const boost::system::system_error &e) {
    throw std::runtime_error(method + " " + url + ": " + e.code().message());
  }
}

ClientResponse send_webhook(const SourceConfig &source, const std::string &url, std::string_view body,
                            const std::string &idempotency_key) {
  HeaderList headers;
  std::string payload(body);
  if (source.auth == AuthMode::hmac) {
    if (source.secrets.empty())
      throw std::invalid_argument("source '" + source.name + "' has no secret");
    auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    headers = sign_webhook(source.secrets.front(), payload, now.count());
  } else {
    payload = with_passphrase(source, body);
  }
  if (!idempotency_key.empty())
    headers.emplace_back("X-Idempotency-Key", idempotency_key);
  return http_request("POST", url, payload, headers);
}

} // namespace th::gateway
