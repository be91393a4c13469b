// The deployment's `gateway:` section, parsed and checked. Every problem is reported at once,
// each with its place in the deployment file (see docs/gateway.md for the fields).
#pragma once

#include "config/source_location.hpp"
#include "gateway/client_address.hpp"
#include "gateway/http_server.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace th {
struct Deployment;
}

namespace th::gateway {

// One field of a source mapping: target field <- a field of the source's payload.
struct FieldMapping {
  std::string target;                     // signal field, e.g. "instrument"
  std::string from;                       // payload key; a dotted path is tried as one key, then nested
  std::string after;                      // keep the text after the last occurrence of this, e.g. ":"
  std::optional<nlohmann::json> fallback; // `default:` when the payload lacks the field
  bool upper = false;                     // upper-case a string value
  bool lower = false;                     // lower-case a string value
  bool number = false;                    // convert a numeric string to a number
  bool operator==(const FieldMapping &) const = default;
};

enum class AuthMode { hmac, passphrase };

struct SourceConfig {
  std::string name;
  bool enabled = true;
  AuthMode auth = AuthMode::hmac;
  std::vector<std::string> secrets; // hmac: every active secret (rotation: old and new)
  std::string passphrase_field = "passphrase";
  std::vector<std::string> passphrases;
  std::vector<std::string> allow_ips; // empty = any address; an entry may list several, comma-separated
  double rate_per_s = 1000;
  double burst = 2000;
  std::vector<std::string> idempotency_fields; // derive a key from these body fields when no header
  std::vector<FieldMapping> mapping;

  // The environment variable the deployment file reads the first secret or passphrase from
  // (its ${VAR}), or "" when the file names none (named in the development-default warning).
  std::string secret_variable;

  // True when a secret or passphrase is a known development default (warned about at start-up).
  bool uses_dev_default() const;
  bool operator==(const SourceConfig &) const = default; // a reload swaps in sources that differ
};

struct GatewayConfig {
  HttpServerOptions server; // listen, threads, limits, timeouts, tls
  int64_t replay_window_s = 300;
  int64_t idempotency_ttl_s = 3600;
  size_t max_nonces = 1'000'000;
  size_t max_idempotency_keys = 1'000'000;
  std::chrono::milliseconds publish_timeout{1000}; // how long a full bus may hold a request
  size_t max_json_depth = 64;                      // nesting of a webhook body (arrays and objects)
  std::vector<std::string> trusted_proxies;        // addresses or CIDR ranges whose forwarded header counts
  ForwardedHeader forwarded_header = ForwardedHeader::x_forwarded_for;
  std::string signal_schema_file; // empty = schemas/signal.schema.json found by find_signal_schema()
  std::map<std::string, SourceConfig, std::less<>> sources;
};

// Known development defaults, never to be used in production.
inline constexpr const char *dev_default_secret = "test-secret";
inline constexpr const char *dev_default_passphrase = "dev-passphrase";

using Locator = std::function<SourceLocation(std::string_view json_pointer)>;

// Throws ConfigErrors listing every problem. Relative secret_files and TLS files resolve against
// the current directory.
GatewayConfig parse_gateway_config(const nlohmann::json &section, const Locator &locate);
GatewayConfig parse_gateway_config(const Deployment &deployment);

// The signal schema, found like the deployment schema (config/deployment_schema.hpp):
// $TRADEHOST_SCHEMA_DIR, else the source tree, else /usr/share/tradehost/schemas.
std::string find_signal_schema();

} // namespace th::gateway
