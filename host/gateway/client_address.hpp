// The client's address behind trusted proxies. X-Forwarded-For (or RFC 7239 Forwarded, as
// configured) is read only when the peer is a configured proxy: the list is walked from the
// right, skipping trusted proxies, and the first address that is not one is the client. From any
// other peer the headers are ignored, so a client cannot claim an allowlisted address.
#pragma once

#include "gateway/http_types.hpp"

#include <boost/asio/ip/address.hpp>

#include <string>
#include <vector>

namespace th::gateway {

enum class ForwardedHeader { x_forwarded_for, forwarded };

class TrustedProxies {
public:
  TrustedProxies() = default;
  // Addresses or CIDR ranges ("10.0.0.5", "10.1.0.0/16", "fd00::/8"); throws std::invalid_argument
  // naming an entry that is neither.
  TrustedProxies(const std::vector<std::string> &entries, ForwardedHeader header);

  bool empty() const { return ranges_.empty(); }
  bool trusted(std::string_view address) const;
  // request.client_address, or the address the trusted proxies forwarded for.
  std::string client_of(const HttpRequest &request) const;

  // Whether text is an address or CIDR range (config checks).
  static bool valid_entry(std::string_view text);

private:
  struct Range {
    boost::asio::ip::address network;
    unsigned prefix = 0;
  };
  std::vector<Range> ranges_;
  ForwardedHeader header_ = ForwardedHeader::x_forwarded_for;
};

} // namespace th::gateway
