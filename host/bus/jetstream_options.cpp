#include "bus/jetstream_options.hpp"

#include <cstdlib>

namespace th {
namespace {

constexpr const char *section_name = "bus/jetstream"; // in messages: "unknown key 'x' in bus/jetstream/tls"

// Collects every problem of the section with its location, then throws them together.
class SectionReader {
public:
  explicit SectionReader(const Locator &locate) : locate_(locate) {}

  // `pointer` within the section.
  void error(const std::string &pointer, const std::string &message) {
    errors_.push_back(ConfigError{locate_(pointer), message});
  }

  const nlohmann::json *find(const nlohmann::json &object, const std::string &key) {
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
  }

  void read_string(const nlohmann::json &object, const std::string &pointer, const std::string &key,
                   std::string &out) {
    const nlohmann::json *value = find(object, key);
    if (!value)
      return;
    if (!value->is_string())
      return error(pointer + "/" + key, key + " must be a string");
    out = value->get<std::string>();
  }

  void read_int(const nlohmann::json &object, const std::string &pointer, const std::string &key, int &out,
                int64_t min, int64_t max) {
    const nlohmann::json *value = find(object, key);
    if (!value)
      return;
    if (!value->is_number_integer())
      return error(pointer + "/" + key, key + " must be an integer");
    int64_t v = value->get<int64_t>();
    if (v < min || v > max)
      return error(pointer + "/" + key, key + " must be between " + std::to_string(min) + " and " +
                                            std::to_string(max) + ", not " + std::to_string(v));
    out = static_cast<int>(v);
  }

  void read_bool(const nlohmann::json &object, const std::string &pointer, const std::string &key,
                 bool &out) {
    const nlohmann::json *value = find(object, key);
    if (!value)
      return;
    if (!value->is_boolean())
      return error(pointer + "/" + key, key + " must be true or false");
    out = value->get<bool>();
  }

  void reject_unknown(const nlohmann::json &object, const std::string &pointer,
                      std::initializer_list<const char *> known) {
    for (auto it = object.begin(); it != object.end(); ++it) {
      bool found = false;
      for (const char *k : known)
        found = found || it.key() == k;
      if (!found)
        error(pointer + "/" + it.key(), "unknown key '" + it.key() + "' in " + section_name + pointer);
    }
  }

  void throw_if_errors() {
    if (!errors_.empty())
      throw ConfigErrors(std::move(errors_));
  }

private:
  const Locator &locate_;
  std::vector<ConfigError> errors_;
};

} // namespace

JetStreamOptions default_jetstream_options() {
  JetStreamOptions options;
  const char *url = std::getenv("NATS_URL");
  options.servers = {url && *url ? std::string(url) : std::string("nats://127.0.0.1:4222")};
  return options;
}

JetStreamOptions parse_jetstream_options(const nlohmann::json &section, const Locator &locate) {
  JetStreamOptions options = default_jetstream_options();
  if (section.is_null() || (section.is_object() && section.empty()))
    return options;

  SectionReader reader(locate);
  const std::string base; // the section itself
  if (!section.is_object()) {
    reader.error(base, "bus.jetstream must be an object");
    reader.throw_if_errors();
  }
  reader.reject_unknown(section, base,
                        {"servers", "stream", "replicas", "duplicate_window_s", "max_in_flight",
                         "publish_timeout_ms", "connect_timeout_ms", "start_timeout_ms", "reconnect_wait_ms",
                         "reconnect_buffer_bytes", "connection_name", "creds_file", "nkey", "nkey_file",
                         "user", "password", "tls", "consumers"});

  if (const nlohmann::json *servers = reader.find(section, "servers")) {
    if (servers->is_string())
      options.servers = {servers->get<std::string>()}; // one URL is fine too
    else if (!servers->is_array() || servers->empty())
      reader.error(base + "/servers", "servers must be a non-empty list of nats:// or tls:// URLs");
    else {
      options.servers.clear();
      for (size_t i = 0; i < servers->size(); ++i) {
        const auto &url = (*servers)[i];
        if (!url.is_string() || url.get<std::string>().empty())
          reader.error(base + "/servers/" + std::to_string(i), "server URL must be a non-empty string");
        else
          options.servers.push_back(url.get<std::string>());
      }
    }
  }
  for (size_t i = 0; i < options.servers.size(); ++i) {
    const std::string &url = options.servers[i];
    if (url.rfind("nats://", 0) != 0 && url.rfind("tls://", 0) != 0)
      reader.error(base + "/servers", "server URL '" + url + "' must start with nats:// or tls://");
  }

  reader.read_string(section, base, "stream", options.stream);
  if (options.stream.empty() || options.stream.find_first_of(". *>/\\") != std::string::npos)
    reader.error(base + "/stream",
                 "stream must be a non-empty name without '.', '*', '>', '/', '\\' or spaces");
  reader.read_int(section, base, "replicas", options.replicas, 1, 5);
  reader.read_int(section, base, "duplicate_window_s", options.duplicate_window_s, 1, 7 * 24 * 3600);
  reader.read_int(section, base, "max_in_flight", options.max_in_flight, 1, 1 << 20);
  reader.read_int(section, base, "publish_timeout_ms", options.publish_timeout_ms, 1, 600000);
  reader.read_int(section, base, "connect_timeout_ms", options.connect_timeout_ms, 1, 600000);
  reader.read_int(section, base, "start_timeout_ms", options.start_timeout_ms, 0, 86400000);
  reader.read_int(section, base, "reconnect_wait_ms", options.reconnect_wait_ms, 1, 600000);
  reader.read_int(section, base, "reconnect_buffer_bytes", options.reconnect_buffer_bytes, 0, 1 << 30);
  reader.read_string(section, base, "connection_name", options.connection_name);
  reader.read_string(section, base, "creds_file", options.creds_file);
  reader.read_string(section, base, "nkey", options.nkey);
  reader.read_string(section, base, "nkey_file", options.nkey_file);
  reader.read_string(section, base, "user", options.user);
  reader.read_string(section, base, "password", options.password);

  int methods = !options.creds_file.empty() + !options.nkey_file.empty() + !options.user.empty();
  if (methods > 1)
    reader.error(base, "use only one of creds_file, nkey_file and user/password");
  if (!options.nkey_file.empty() && options.nkey.empty())
    reader.error(base + "/nkey_file", "nkey_file needs nkey (the public user key matching the seed)");
  if (!options.password.empty() && options.user.empty())
    reader.error(base + "/password", "password needs user");

  if (const nlohmann::json *tls = reader.find(section, "tls")) {
    const std::string pointer = base + "/tls";
    if (!tls->is_object())
      reader.error(pointer, "tls must be an object");
    else {
      reader.reject_unknown(*tls, pointer, {"ca_file", "cert_file", "key_file"});
      reader.read_string(*tls, pointer, "ca_file", options.tls.ca_file);
      reader.read_string(*tls, pointer, "cert_file", options.tls.cert_file);
      reader.read_string(*tls, pointer, "key_file", options.tls.key_file);
      if (options.tls.cert_file.empty() != options.tls.key_file.empty())
        reader.error(pointer, "cert_file and key_file go together");
    }
  }

  if (const nlohmann::json *consumers = reader.find(section, "consumers")) {
    const std::string pointer = base + "/consumers";
    if (!consumers->is_object())
      reader.error(pointer, "consumers must be an object");
    else {
      reader.reject_unknown(
          *consumers, pointer,
          {"ack_wait_s", "max_deliver", "fetch_batch", "fetch_wait_ms", "defer_handler_publishes"});
      reader.read_int(*consumers, pointer, "ack_wait_s", options.consumers.ack_wait_s, 1, 24 * 3600);
      reader.read_int(*consumers, pointer, "max_deliver", options.consumers.max_deliver, 1, 1000000);
      reader.read_int(*consumers, pointer, "fetch_batch", options.consumers.fetch_batch, 1, 10000);
      reader.read_int(*consumers, pointer, "fetch_wait_ms", options.consumers.fetch_wait_ms, 10, 60000);
      reader.read_bool(*consumers, pointer, "defer_handler_publishes",
                       options.consumers.defer_handler_publishes);
    }
  }
  reader.throw_if_errors();
  return options;
}

} // namespace th
