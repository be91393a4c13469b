// What a route handler sees and returns: a request already read in full (headers and body,
// within the server's limits) and a response the server writes back.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace th::gateway {

struct HttpHeader {
  std::string_view name;
  std::string_view value;
};

struct HttpRequest {
  std::string_view method;         // "GET", "POST", ...
  std::string_view target;         // as sent, e.g. "/webhook/test?x=1"
  std::string_view path;           // target without the query
  std::string_view body;           // raw bytes (de-chunked)
  std::string_view client_address; // peer IP, e.g. "127.0.0.1"
  std::span<const HttpHeader> headers;

  // The value of a header ("" when absent). Names are case-insensitive.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers; // extra headers
  bool close = false;                                       // close the connection after this one
};

using RouteHandler = std::function<HttpResponse(const HttpRequest &)>;

// {"detail": detail} as a JSON response with this status.
HttpResponse json_error(int status, std::string_view detail);

} // namespace th::gateway
