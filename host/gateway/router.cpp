#include "gateway/router.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace th::gateway {

std::string_view HttpRequest::header(std::string_view name) const {
  // Field names are ASCII tokens: fold case without the locale.
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; };
  auto same = [&](char a, char b) { return lower(a) == lower(b); };
  for (const auto &h : headers)
    if (std::ranges::equal(h.name, name, same))
      return h.value;
  return {};
}

HttpResponse json_error(int status, std::string_view detail) {
  HttpResponse r;
  r.status = status;
  r.body = nlohmann::json{{"detail", detail}}.dump();
  return r;
}

void Router::add(std::string method, std::string path, RouteHandler handler) {
  routes_.push_back({std::move(method), std::move(path), false, std::move(handler)});
}

void Router::add_prefix(std::string method, std::string prefix, RouteHandler handler) {
  routes_.push_back({std::move(method), std::move(prefix), true, std::move(handler)});
}

const Router::Route *Router::find(std::string_view method, std::string_view path,
                                  std::string *allowed) const {
  const Route *best = nullptr;
  for (const auto &r : routes_) {
    bool matches = r.prefix ? path.substr(0, r.path.size()) == r.path : path == r.path;
    if (!matches)
      continue;
    if (r.method != method) {
      if (allowed)
        *allowed += (allowed->empty() ? "" : ", ") + r.method;
      continue;
    }
    // Exact beats prefix; a longer prefix beats a shorter one.
    if (!best || (best->prefix && (!r.prefix || r.path.size() > best->path.size())))
      best = &r;
  }
  return best;
}

HttpResponse Router::dispatch(const HttpRequest &request) const {
  std::string allowed;
  if (const Route *r = find(request.method, request.path, &allowed))
    return r->handler(request);
  if (!allowed.empty()) {
    auto response = json_error(405, "method not allowed");
    response.headers.emplace_back("Allow", allowed);
    return response;
  }
  return json_error(404, "not found");
}

std::string_view Router::pattern_of(std::string_view method, std::string_view path) const {
  const Route *r = find(method, path, nullptr);
  return r ? std::string_view(r->path) : std::string_view("other");
}

std::vector<std::string> Router::patterns() const {
  std::vector<std::string> out;
  for (const auto &r : routes_)
    out.push_back(r.path);
  return out;
}

} // namespace th::gateway
