// Method + path routing: exact paths first, then the longest matching prefix. Routes are added
// before the server starts; lookups afterwards are lock-free.
#pragma once

#include "gateway/http_types.hpp"

#include <map>
#include <string>
#include <vector>

namespace th::gateway {

class Router {
public:
  // Exact path, e.g. add("GET", "/healthz", h).
  void add(std::string method, std::string path, RouteHandler handler);
  // Every path starting with prefix, e.g. add_prefix("POST", "/webhook/", h).
  void add_prefix(std::string method, std::string prefix, RouteHandler handler);

  // 404 when no path matches, 405 (with Allow) when the path matches under another method.
  HttpResponse dispatch(const HttpRequest &request) const;

  // The route pattern a request matched ("/webhook/", "/healthz"), or "other"; a bounded label.
  std::string_view pattern_of(std::string_view method, std::string_view path) const;

  // Every route's path or prefix (the metric label set).
  std::vector<std::string> patterns() const;

private:
  struct Route {
    std::string method;
    std::string path;
    bool prefix = false;
    RouteHandler handler;
  };
  const Route *find(std::string_view method, std::string_view path, std::string *allowed) const;
  std::vector<Route> routes_;
};

} // namespace th::gateway
