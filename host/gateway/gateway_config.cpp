#include "gateway/gateway_config.hpp"

#include "config/deployment_schema.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace th::gateway {
namespace {

using nlohmann::json;

// Collects problems with their locations while reading one section.
class Reader {
public:
  explicit Reader(const Locator &locate) : locate_(locate) {}

  void fail(const std::string &pointer, const std::string &message) {
    SourceLocation where = locate_ ? locate_(pointer) : SourceLocation{};
    if (where.yaml_path.empty())
      where.yaml_path = "gateway" + pointer;
    errors_.push_back({where, message});
  }

  void only_keys(const json &object, const std::string &pointer, std::initializer_list<const char *> keys) {
    std::set<std::string_view> known(keys.begin(), keys.end());
    for (auto &[key, value] : object.items())
      if (!known.count(key))
        fail(pointer + "/" + key, "unknown key '" + key + "'");
  }

  template <class T> std::optional<T> get(const json &object, const std::string &pointer, const char *key) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null())
      return std::nullopt;
    try {
      if constexpr (std::is_same_v<T, std::string>) {
        if (!it->is_string())
          throw std::invalid_argument("a string");
      } else if constexpr (std::is_same_v<T, bool>) {
        if (!it->is_boolean())
          throw std::invalid_argument("true or false");
      } else {
        if (!it->is_number())
          throw std::invalid_argument("a number");
        if (it->get<double>() < 0)
          throw std::invalid_argument("not negative");
      }
      return it->get<T>();
    } catch (const std::exception &e) {
      fail(pointer + "/" + key, std::string("must be ") + e.what());
      return std::nullopt;
    }
  }

  std::vector<std::string> strings(const json &object, const std::string &pointer, const char *key) {
    std::vector<std::string> out;
    auto it = object.find(key);
    if (it == object.end() || it->is_null())
      return out;
    if (!it->is_array()) {
      fail(pointer + "/" + key, "must be a list of strings");
      return out;
    }
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string())
        fail(pointer + "/" + key + "/" + std::to_string(i), "must be a string");
      else
        out.push_back((*it)[i].get<std::string>());
    }
    return out;
  }

  std::vector<ConfigError> errors_;
  const Locator &locate() const { return locate_; }

private:
  const Locator &locate_;
};

// A secret is at most this long (a file holding more is not a secret file).
constexpr size_t maximum_secret_bytes = 4096;

std::string read_secret_file(const std::string &path, std::string &error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read secret file '" + path + "'";
    return {};
  }
  std::string s(maximum_secret_bytes + 2, '\0'); // room for a final newline, and one byte more
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<size_t>(in.gcount()));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  if (s.empty())
    error = "secret file '" + path + "' is empty";
  return s;
}

// The ${VAR} on the deployment file's line of a value, so a warning can name the variable.
std::string variable_at(const Locator &locate, const std::string &pointer) {
  if (!locate)
    return "";
  SourceLocation where = locate(pointer);
  if (where.file.empty() || where.line <= 0)
    return "";
  std::ifstream in(where.file);
  std::string line;
  for (int n = 0; n < where.line && std::getline(in, line); ++n) {
  }
  std::smatch match;
  static const std::regex variable(R"(\$\{([A-Za-z_][A-Za-z0-9_]*))");
  return std::regex_search(line, match, variable) ? match[1].str() : "";
}

FieldMapping parse_mapping(Reader &r, const std::string &target, const json &spec,
                           const std::string &pointer) {
  FieldMapping m;
  m.target = target;
  if (spec.is_string()) { // shorthand: `instrument: ticker`
    m.from = spec.get<std::string>();
    return m;
  }
  if (!spec.is_object()) {
    r.fail(pointer, "must be a field name or {from, after, default, upper, lower, number}");
    return m;
  }
  r.only_keys(spec, pointer, {"from", "after", "default", "upper", "lower", "number"});
  m.from = r.get<std::string>(spec, pointer, "from").value_or(target);
  m.after = r.get<std::string>(spec, pointer, "after").value_or("");
  if (spec.contains("default"))
    m.fallback = spec["default"];
  m.upper = r.get<bool>(spec, pointer, "upper").value_or(false);
  m.lower = r.get<bool>(spec, pointer, "lower").value_or(false);
  m.number = r.get<bool>(spec, pointer, "number").value_or(false);
  return m;
}

SourceConfig parse_source(Reader &r, const std::string &name, const json &spec, const std::string &pointer) {
  SourceConfig s;
  s.name = name;
  if (!spec.is_object()) {
    r.fail(pointer, "must be a mapping");
    return s;
  }
  r.only_keys(spec, pointer,
              {"auth", "enabled", "secrets", "secret_files", "passphrase_field", "passphrases",
               "passphrase_files", "allow_ips", "rate_limit", "idempotency_fields", "mapping"});
  std::string auth = r.get<std::string>(spec, pointer, "auth").value_or("hmac");
  if (auth == "passphrase")
    s.auth = AuthMode::passphrase;
  else if (auth != "hmac")
    r.fail(pointer + "/auth", "must be hmac or passphrase, not '" + auth + "'");
  s.enabled = r.get<bool>(spec, pointer, "enabled").value_or(true);
  s.secrets = r.strings(spec, pointer, "secrets");
  s.passphrases = r.strings(spec, pointer, "passphrases");
  auto load_files = [&](const char *key, std::vector<std::string> &into) {
    auto files = r.strings(spec, pointer, key);
    for (size_t i = 0; i < files.size(); ++i) {
      std::string error;
      auto secret = read_secret_file(files[i], error);
      if (!error.empty())
        r.fail(pointer + "/" + key + "/" + std::to_string(i), error);
      else
        into.push_back(std::move(secret));
    }
  };
  load_files("secret_files", s.secrets);
  load_files("passphrase_files", s.passphrases);
  for (size_t i = 0; i < s.secrets.size(); ++i)
    if (s.secrets[i].empty())
      r.fail(pointer + "/secrets/" + std::to_string(i), "is empty");
    else if (s.secrets[i].size() > maximum_secret_bytes)
      r.fail(pointer + "/secrets/" + std::to_string(i),
             "is longer than " + std::to_string(maximum_secret_bytes) + " bytes");
  for (size_t i = 0; i < s.passphrases.size(); ++i)
    if (s.passphrases[i].empty())
      r.fail(pointer + "/passphrases/" + std::to_string(i), "is empty");
    else if (s.passphrases[i].size() > maximum_secret_bytes)
      r.fail(pointer + "/passphrases/" + std::to_string(i),
             "is longer than " + std::to_string(maximum_secret_bytes) + " bytes");
  s.passphrase_field = r.get<std::string>(spec, pointer, "passphrase_field").value_or("passphrase");
  if (s.auth == AuthMode::hmac && s.secrets.empty())
    r.fail(pointer, "source '" + name + "' uses hmac auth but has no secrets or secret_files");
  if (s.auth == AuthMode::passphrase && s.passphrases.empty())
    r.fail(pointer, "source '" + name + "' uses passphrase auth but has no passphrases or passphrase_files");
  if (s.auth == AuthMode::hmac && !spec.contains("secret_files"))
    s.secret_variable = variable_at(r.locate(), pointer + "/secrets/0");
  else if (s.auth == AuthMode::passphrase && !spec.contains("passphrase_files"))
    s.secret_variable = variable_at(r.locate(), pointer + "/passphrases/0");
  // One entry may carry a comma-separated list, so a single ${VAR} can override the whole list
  // (e.g. TRADINGVIEW_ALLOW_IPS=127.0.0.1 to test the tradingview source locally).
  auto entries = r.strings(spec, pointer, "allow_ips");
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string_view list = entries[i];
    do {
      auto comma = list.find(',');
      std::string item(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      boost::system::error_code ec;
      auto address = boost::asio::ip::make_address(item, ec);
      if (ec)
        r.fail(pointer + "/allow_ips/" + std::to_string(i), "'" + item + "' is not an IP address");
      else if (address.is_v6() && address.to_v6().is_v4_mapped())
        s.allow_ips.push_back(
            boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6()).to_string());
      else
        s.allow_ips.push_back(address.to_string()); // canonical form, compared with the peer's
    } while (!list.empty());
  }
  if (auto it = spec.find("rate_limit"); it != spec.end()) {
    if (!it->is_object())
      r.fail(pointer + "/rate_limit", "must be {rate_per_s, burst}");
    else {
      r.only_keys(*it, pointer + "/rate_limit", {"rate_per_s", "burst"});
      s.rate_per_s = r.get<double>(*it, pointer + "/rate_limit", "rate_per_s").value_or(s.rate_per_s);
      s.burst = r.get<double>(*it, pointer + "/rate_limit", "burst").value_or(std::max(1.0, s.rate_per_s));
      if (s.burst < 1)
        r.fail(pointer + "/rate_limit/burst", "must be at least 1");
    }
  }
  s.idempotency_fields = r.strings(spec, pointer, "idempotency_fields");
  if (auto it = spec.find("mapping"); it != spec.end() && !it->is_null()) {
    static const std::set<std::string_view> targets{"instrument", "price",    "signal",
                                                    "strength",   "metadata", "timestamp"};
    if (!it->is_object())
      r.fail(pointer + "/mapping", "must be a mapping of signal field -> source field");
    else
      for (auto &[target, field_spec] : it->items()) {
        if (!targets.count(target))
          r.fail(pointer + "/mapping/" + target,
                 "'" + target +
                     "' is not a signal field (instrument, price, signal, strength, metadata, timestamp)");
        else
          s.mapping.push_back(parse_mapping(r, target, field_spec, pointer + "/mapping/" + target));
      }
  }
  return s;
}

} // namespace

bool SourceConfig::uses_dev_default() const {
  for (auto &s : secrets)
    if (s == dev_default_secret)
      return true;
  for (auto &p : passphrases)
    if (p == dev_default_passphrase)
      return true;
  return false;
}

GatewayConfig parse_gateway_config(const nlohmann::json &section, const Locator &locate) {
  GatewayConfig c;
  Reader r(locate);
  if (section.is_null())
    return c;
  if (!section.is_object()) {
    r.fail("", "must be a mapping");
    throw ConfigErrors(r.errors_);
  }
  r.only_keys(section, "",
              {"listen",
               "threads",
               "max_body_bytes",
               "max_header_bytes",
               "max_headers",
               "header_timeout_ms",
               "body_timeout_ms",
               "idle_timeout_ms",
               "replay_window_s",
               "idempotency_ttl_s",
               "max_nonces",
               "max_idempotency_keys",
               "publish_timeout_ms",
               "signal_schema",
               "tls",
               "sources",
               "max_json_depth",
               "max_connections",
               "max_connections_per_client",
               "max_inflight_body_bytes",
               "trusted_proxies",
               "forwarded_header"});
  auto &s = c.server;
  s.listen = r.get<std::string>(section, "", "listen").value_or(s.listen);
  try {
    split_host_port(s.listen);
  } catch (const std::exception &e) {
    r.fail("/listen", e.what());
  }
  s.threads = r.get<int>(section, "", "threads").value_or(s.threads);
  if (s.threads < 1 || s.threads > 256)
    r.fail("/threads", "must be between 1 and 256");
  s.max_body_bytes = r.get<size_t>(section, "", "max_body_bytes").value_or(s.max_body_bytes);
  s.max_header_bytes = r.get<size_t>(section, "", "max_header_bytes").value_or(s.max_header_bytes);
  s.max_headers = r.get<size_t>(section, "", "max_headers").value_or(s.max_headers);
  auto ms = [&](const char *key, std::chrono::milliseconds fallback) {
    auto v = r.get<int64_t>(section, "", key);
    if (v && *v == 0)
      r.fail(std::string("/") + key, "must be positive");
    return v ? std::chrono::milliseconds(*v) : fallback;
  };
  s.header_timeout = ms("header_timeout_ms", s.header_timeout);
  s.body_timeout = ms("body_timeout_ms", s.body_timeout);
  s.idle_timeout = ms("idle_timeout_ms", s.idle_timeout);
  c.publish_timeout = ms("publish_timeout_ms", c.publish_timeout);
  c.replay_window_s = r.get<int64_t>(section, "", "replay_window_s").value_or(c.replay_window_s);
  c.idempotency_ttl_s = r.get<int64_t>(section, "", "idempotency_ttl_s").value_or(c.idempotency_ttl_s);
  c.max_nonces = r.get<size_t>(section, "", "max_nonces").value_or(c.max_nonces);
  c.max_idempotency_keys =
      r.get<size_t>(section, "", "max_idempotency_keys").value_or(c.max_idempotency_keys);
  c.signal_schema_file = r.get<std::string>(section, "", "signal_schema").value_or("");
  c.max_json_depth = r.get<size_t>(section, "", "max_json_depth").value_or(c.max_json_depth);
  if (c.max_json_depth < 2 || c.max_json_depth > 1000)
    r.fail("/max_json_depth",
           "must be between 2 and 1000 (each level is a stack frame when a body is copied)");
  s.max_connections = r.get<size_t>(section, "", "max_connections").value_or(s.max_connections);
  s.max_connections_per_client =
      r.get<size_t>(section, "", "max_connections_per_client").value_or(s.max_connections_per_client);
  s.max_inflight_body_bytes =
      r.get<size_t>(section, "", "max_inflight_body_bytes").value_or(s.max_inflight_body_bytes);
  for (auto [key, value] : {std::pair{"max_connections", s.max_connections},
                            {"max_connections_per_client", s.max_connections_per_client},
                            {"max_inflight_body_bytes", s.max_inflight_body_bytes}})
    if (value == 0)
      r.fail(std::string("/") + key, "must be positive");
  if (s.max_inflight_body_bytes < s.max_body_bytes)
    r.fail("/max_inflight_body_bytes", "must be at least max_body_bytes (" +
                                           std::to_string(s.max_body_bytes) +
                                           "), or no body at the limit could be read");
  c.trusted_proxies = r.strings(section, "", "trusted_proxies");
  for (size_t i = 0; i < c.trusted_proxies.size(); ++i)
    if (!TrustedProxies::valid_entry(c.trusted_proxies[i]))
      r.fail("/trusted_proxies/" + std::to_string(i),
             "'" + c.trusted_proxies[i] + "' is not an IP address or CIDR range");
  std::string forwarded = r.get<std::string>(section, "", "forwarded_header").value_or("x-forwarded-for");
  if (forwarded == "forwarded")
    c.forwarded_header = ForwardedHeader::forwarded;
  else if (forwarded != "x-forwarded-for")
    r.fail("/forwarded_header", "must be x-forwarded-for or forwarded, not '" + forwarded + "'");
  if (auto it = section.find("tls"); it != section.end() && !it->is_null()) {
    if (!it->is_object())
      r.fail("/tls", "must be {listen, cert_file, key_file}");
    else {
      r.only_keys(*it, "/tls", {"listen", "cert_file", "key_file"});
      TlsOptions tls;
      tls.listen = r.get<std::string>(*it, "/tls", "listen").value_or("");
      tls.cert_file = r.get<std::string>(*it, "/tls", "cert_file").value_or("");
      tls.key_file = r.get<std::string>(*it, "/tls", "key_file").value_or("");
      if (tls.listen.empty())
        r.fail("/tls", "needs listen (the TLS listener's host:port)");
      if (tls.cert_file.empty())
        r.fail("/tls", "needs cert_file");
      else if (!std::filesystem::exists(tls.cert_file))
        r.fail("/tls/cert_file", "no such file '" + tls.cert_file + "'");
      if (tls.key_file.empty())
        r.fail("/tls", "needs key_file");
      else if (!std::filesystem::exists(tls.key_file))
        r.fail("/tls/key_file", "no such file '" + tls.key_file + "'");
      s.tls = tls;
    }
  }
  if (auto it = section.find("sources"); it != section.end() && !it->is_null()) {
    if (!it->is_object())
      r.fail("/sources", "must be a mapping of source name -> settings");
    else
      for (auto &[name, spec] : it->items()) {
        bool name_ok = !name.empty() && name.size() <= 40;
        for (char ch : name)
          name_ok = name_ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-');
        if (!name_ok)
          r.fail("/sources/" + name, "source name '" + name + "' must be 1-40 of [A-Za-z0-9_-]");
        c.sources.emplace(name, parse_source(r, name, spec, "/sources/" + name));
      }
  }
  if (!r.errors_.empty())
    throw ConfigErrors(r.errors_);
  return c;
}

std::string find_signal_schema() {
  return schema_path("signal.schema.json").string();
}

} // namespace th::gateway
