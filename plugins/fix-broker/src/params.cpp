#include "params.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace fix_broker {
namespace {

[[noreturn]] void fail(const std::string &what) {
  throw std::invalid_argument("fix-broker params: " + what);
}

std::string text(const nlohmann::json &v, const std::string &name) {
  if (!v.is_string())
    fail("'" + name + "' must be a string");
  return v.get<std::string>();
}

int integer(const nlohmann::json &v, const std::string &name, int min, int max) {
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max)
    fail("'" + name + "' must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return static_cast<int>(v.get<int64_t>());
}

bool boolean(const nlohmann::json &v, const std::string &name) {
  if (!v.is_boolean())
    fail("'" + name + "' must be true or false");
  return v.get<bool>();
}

std::string from_env(const std::string &variable, const std::string &name) {
  const char *value = std::getenv(variable.c_str());
  if (!value || !*value)
    fail("'" + name + "': environment variable " + variable + " is not set");
  return value;
}

std::string from_file(const std::string &path, const std::string &name) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line))
    fail("'" + name + "': cannot read " + path);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  return line;
}

} // namespace

Params parse_params(std::string_view json_text) {
  nlohmann::json doc =
      nlohmann::json::parse(json_text.empty() ? std::string_view("{}") : json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    fail("must be a JSON object");
  Params p;
  SessionConfig &s = p.session;
  for (const auto &[name, v] : doc.items()) {
    if (name == "host")
      s.host = text(v, name);
    else if (name == "port")
      s.port = integer(v, name, 1, 65535);
    else if (name == "sender_comp_id")
      s.sender_comp_id = text(v, name);
    else if (name == "target_comp_id")
      s.target_comp_id = text(v, name);
    else if (name == "heartbeat_s")
      s.heartbeat_s = integer(v, name, 1, 3600);
    else if (name == "reconnect_interval_s")
      s.reconnect_interval_s = integer(v, name, 1, 3600);
    else if (name == "logon_timeout_s") {
      if (!v.is_number() || v.get<double>() < 0)
        fail("'logon_timeout_s' must be a number >= 0");
      p.logon_timeout_s = v.get<double>();
    } else if (name == "username")
      s.username = text(v, name);
    else if (name == "username_env")
      s.username = from_env(text(v, name), name);
    else if (name == "password_env")
      s.password = from_env(text(v, name), name);
    else if (name == "password_file")
      s.password = from_file(text(v, name), name);
    else if (name == "tls")
      s.tls = boolean(v, name);
    else if (name == "tls_ca_file")
      s.tls_ca_file = text(v, name);
    else if (name == "state_dir")
      p.state_dir = text(v, name);
    else if (name == "venue")
      p.venue = text(v, name);
    else if (name == "fsync")
      p.fsync = boolean(v, name);
    else if (name == "reset_on_logon")
      s.reset_on_logon = boolean(v, name);
    else
      fail("unknown parameter '" + name + "'");
  }
  if (s.port == 0)
    fail("'port' is required");
  if (s.sender_comp_id.empty() || s.target_comp_id.empty())
    fail("'sender_comp_id' and 'target_comp_id' are required");
  if (s.tls && !tls_available())
    fail("'tls': this build's QuickFIX has no SSL support");
  if (p.state_dir.empty()) {
    const char *data = std::getenv("TRADEHOST_DATA_DIR");
    p.state_dir = std::string(data && *data ? data : "./var") + "/fix-broker/" + s.sender_comp_id + "-" +
                  s.target_comp_id;
  }
  if (p.venue.empty())
    p.venue = "fix:" + s.target_comp_id;
  s.store_dir = p.state_dir + "/store";
  return p;
}

} // namespace fix_broker
