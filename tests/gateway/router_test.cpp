// Method + path routing (gateway/router) without a server: exact paths before prefixes, the
// longest prefix first, 404 for an unknown path, 405 with every allowed method for a known path
// under another method, case-insensitive header lookup, and the bounded metric labels.
#include "gateway/router.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <string>

namespace th::gateway {
namespace {

HttpRequest request(std::string_view method, std::string_view path) {
  HttpRequest r;
  r.method = method;
  r.target = path;
  r.path = path;
  return r;
}

// A handler answering with its own name, so a test sees which route ran.
RouteHandler named(std::string name) {
  return [name](const HttpRequest &) {
    HttpResponse r;
    r.body = name;
    return r;
  };
}

std::string header(const HttpResponse &response, const std::string &name) {
  for (const auto &[key, value] : response.headers)
    if (key == name)
      return value;
  return "";
}

TEST(Router, AnExactPathBeatsAPrefixWhateverTheOrderAdded) {
  Router router;
  router.add_prefix("GET", "/audit/", named("prefix"));
  router.add("GET", "/audit/verify", named("exact"));
  EXPECT_EQ(router.dispatch(request("GET", "/audit/verify")).body, "exact");
  EXPECT_EQ(router.dispatch(request("GET", "/audit/rows")).body, "prefix");
}

TEST(Router, TheLongestMatchingPrefixWins) {
  Router router;
  router.add_prefix("POST", "/webhook/", named("short"));
  router.add_prefix("POST", "/webhook/tradingview/", named("long"));
  EXPECT_EQ(router.dispatch(request("POST", "/webhook/tradingview/alert")).body, "long");
  EXPECT_EQ(router.dispatch(request("POST", "/webhook/other")).body, "short");
  // A prefix matches from the start of the path only, and an exact path only itself.
  Router exact;
  exact.add("GET", "/healthz", named("health"));
  EXPECT_EQ(exact.dispatch(request("GET", "/healthz/more")).status, 404);
  EXPECT_EQ(exact.dispatch(request("GET", "/x/webhook/")).status, 404);
}

TEST(Router, AnUnknownPathIs404WithAJsonDetail) {
  Router router;
  router.add("GET", "/healthz", named("health"));
  HttpResponse response = router.dispatch(request("GET", "/nowhere"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(response.body), (nlohmann::json{{"detail", "not found"}}));
  EXPECT_TRUE(header(response, "Allow").empty());
}

TEST(Router, AKnownPathUnderAnotherMethodIs405ListingTheAllowedOnes) {
  Router router;
  router.add("GET", "/admin/trading", named("get"));
  router.add("POST", "/admin/trading", named("post"));
  HttpResponse response = router.dispatch(request("DELETE", "/admin/trading"));
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(header(response, "Allow"), "GET, POST");
  EXPECT_EQ(nlohmann::json::parse(response.body)["detail"], "method not allowed");
  EXPECT_EQ(router.dispatch(request("POST", "/admin/trading")).body, "post");
}

TEST(Router, TheHandlerSeesTheRequestAndItsAnswerIsReturned) {
  Router router;
  router.add("POST", "/echo", [](const HttpRequest &r) {
    HttpResponse response;
    response.status = 202;
    response.body = std::string(r.body) + "|" + std::string(r.header("x-trace"));
    return response;
  });
  const HttpHeader headers[] = {{"X-Trace", "abc"}};
  HttpRequest r = request("POST", "/echo");
  r.body = "payload";
  r.headers = headers;
  HttpResponse response = router.dispatch(r);
  EXPECT_EQ(response.status, 202);
  EXPECT_EQ(response.body, "payload|abc");
}

TEST(Router, HeaderLookupIgnoresCaseAndReturnsTheFirst) {
  const HttpHeader headers[] = {{"Content-Type", "text/plain"}, {"content-type", "second"}};
  HttpRequest r = request("GET", "/");
  r.headers = headers;
  EXPECT_EQ(r.header("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_TRUE(r.header("content-length").empty());
  EXPECT_TRUE(r.header("content-typ").empty());
}

TEST(Router, PatternsAreBoundedLabels) {
  Router router;
  router.add("GET", "/healthz", named("health"));
  router.add_prefix("POST", "/webhook/", named("webhook"));
  EXPECT_EQ(router.pattern_of("POST", "/webhook/abc123"), "/webhook/");
  EXPECT_EQ(router.pattern_of("GET", "/healthz"), "/healthz");
  // Anything unrouted, or routed under another method, is one label: no label per path.
  EXPECT_EQ(router.pattern_of("GET", "/random/path/1"), "other");
  EXPECT_EQ(router.pattern_of("GET", "/webhook/abc123"), "other");
  EXPECT_EQ(router.patterns(), (std::vector<std::string>{"/healthz", "/webhook/"}));
}

} // namespace
} // namespace th::gateway
