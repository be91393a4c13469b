#include "gateway/client_address.hpp"

#include <boost/beast/core/string.hpp>

#include <charconv>
#include <stdexcept>

namespace th::gateway {
namespace {

using boost::asio::ip::address;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// IPv4-mapped IPv6 as IPv4, like the server's peer addresses.
address canonical(const address &a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  return a;
}

bool parse_range(std::string_view text, address &network, unsigned &prefix) {
  auto slash = text.find('/');
  boost::system::error_code ec;
  network = canonical(boost::asio::ip::make_address(std::string(text.substr(0, slash)), ec));
  if (ec)
    return false;
  unsigned bits = network.is_v4() ? 32 : 128;
  prefix = bits;
  if (slash == std::string_view::npos)
    return true;
  auto digits = text.substr(slash + 1);
  auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  return err == std::errc() && end == digits.data() + digits.size() && !digits.empty() && prefix <= bits;
}

template <size_t N>
bool same_prefix(const std::array<unsigned char, N> &a, const std::array<unsigned char, N> &b,
                 unsigned prefix) {
  for (size_t i = 0; i < N && prefix > 0; ++i, prefix = prefix >= 8 ? prefix - 8 : 0) {
    unsigned mask = prefix >= 8 ? 0xff : (0xff << (8 - prefix)) & 0xff;
    if ((a[i] & mask) != (b[i] & mask))
      return false;
  }
  return true;
}

// One Forwarded element's for= value: unquoted, without brackets or port ("unknown" and
// obfuscated identifiers are returned as they are and match no address).
std::string_view forwarded_for(std::string_view element) {
  while (!element.empty()) {
    auto semi = element.find(';');
    auto pair = trim(element.substr(0, semi));
    element = semi == std::string_view::npos ? std::string_view{} : element.substr(semi + 1);
    if (pair.size() < 4 || !boost::beast::iequals(pair.substr(0, 4), "for="))
      continue;
    auto value = trim(pair.substr(4));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (!value.empty() && value.front() == '[') { // "[2001:db8::1]:4711"
      auto close = value.find(']');
      return close == std::string_view::npos ? value : value.substr(1, close - 1);
    }
    if (auto colon = value.find(':');
        colon != std::string_view::npos && value.find(':', colon + 1) == std::string_view::npos)
      value = value.substr(0, colon); // "192.0.2.60:4711"
    return value;
  }
  return {};
}

} // namespace

bool TrustedProxies::valid_entry(std::string_view text) {
  address network;
  unsigned prefix = 0;
  return parse_range(text, network, prefix);
}

TrustedProxies::TrustedProxies(const std::vector<std::string> &entries, ForwardedHeader header)
    : header_(header) {
  for (const auto &entry : entries) {
    Range r;
    if (!parse_range(entry, r.network, r.prefix))
      throw std::invalid_argument("'" + entry + "' is not an IP address or CIDR range");
    ranges_.push_back(r);
  }
}

bool TrustedProxies::trusted(std::string_view text) const {
  if (ranges_.empty())
    return false;
  boost::system::error_code ec;
  auto a = canonical(boost::asio::ip::make_address(std::string(trim(text)), ec));
  if (ec)
    return false;
  for (const auto &r : ranges_) {
    if (a.is_v4() && r.network.is_v4() &&
        same_prefix(a.to_v4().to_bytes(), r.network.to_v4().to_bytes(), r.prefix))
      return true;
    if (a.is_v6() && r.network.is_v6() &&
        same_prefix(a.to_v6().to_bytes(), r.network.to_v6().to_bytes(), r.prefix))
      return true;
  }
  return false;
}

std::string TrustedProxies::client_of(const HttpRequest &request) const {
  std::string client(request.client_address);
  if (!trusted(client))
    return client;
  // Every hop, left to right, over all instances of the header (they form one list).
  std::vector<std::string_view> hops;
  std::string_view name = header_ == ForwardedHeader::forwarded ? "Forwarded" : "X-Forwarded-For";
  for (const auto &h : request.headers) {
    if (!boost::beast::iequals(h.name, name))
      continue;
    std::string_view list = h.value;
    while (!list.empty()) {
      auto comma = list.find(',');
      auto item = trim(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      hops.push_back(header_ == ForwardedHeader::forwarded ? forwarded_for(item) : item);
    }
  }
  // From the nearest hop back: the first one that is not a trusted proxy is the client.
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(std::string(*hop), ec);
    if (ec)
      return std::string(*hop).substr(0, 64); // not an address: matches no allowlist entry
    client = canonical(a).to_string();
    if (!trusted(client))
      return client;
  }
  return client;
}

} // namespace th::gateway
