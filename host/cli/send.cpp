// `tradehost send -c FILE --source S BODY|@file`: signs a webhook with the source's configured
// secret (hmac) or adds its passphrase (passphrase), posts it to the gateway and prints the answer.
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "config/deployment.hpp"
#include "gateway/gateway_config.hpp"
#include "gateway/http_server.hpp"
#include "gateway/webhook_client.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace th::cli {

namespace {

const char *const send_usage =
    R"(Usage: tradehost send -c FILE --source S BODY|@file [--url URL] [--idempotency-key K]

Posts one webhook to a running gateway, signed as the deployment's source S would be: an hmac
source gets X-Timestamp, X-Nonce and X-Signature made with its first secret; a passphrase source
gets its first passphrase in the body. Prints the HTTP status and the response body.

Options:
  -c, --config FILE          the deployment YAML (its gateway section names the sources)
  -s, --source S             the webhook source
      --url URL              default http://<gateway.listen>/webhook/S
      --idempotency-key K    sent as X-Idempotency-Key
  -h, --help                 this help

BODY is the JSON text, or @path to read it from a file (@- for stdin).
Exit codes: 0 on a 2xx answer, 1 otherwise (or when the request fails), 2 on a usage or config error.
)";

std::string read_body(const std::string &arg) {
  if (arg.empty() || arg[0] != '@')
    return arg;
  std::string path = arg.substr(1);
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path);
    if (!in)
      throw UsageError("cannot read body file '" + path + "'");
    text << in.rdbuf();
  }
  return text.str();
}

} // namespace

int send_command(const Args &args) {
  ParsedArgs parsed;
  try {
    parsed = parse_args(args, {{"--config", "-c", true},
                               {"--source", "-s", true},
                               {"--url", "", true},
                               {"--idempotency-key", "", true}});
  } catch (const UsageError &e) {
    std::fprintf(stderr, "tradehost send: %s\n\n%s", e.what(), send_usage);
    return 2;
  }
  if (parsed.has("--help")) {
    std::fputs(send_usage, stdout);
    return 0;
  }
  auto config = parsed.value("--config");
  auto source_name = parsed.value("--source");
  if (!config || !source_name || parsed.positional.size() != 1) {
    std::fprintf(stderr, "tradehost send: needs -c FILE, --source S and one BODY\n\n%s", send_usage);
    return 2;
  }
  gateway::GatewayConfig gateway_config;
  std::string body;
  try {
    gateway_config = gateway::parse_gateway_config(load_deployment(*config));
    body = read_body(parsed.positional.front());
  } catch (const ConfigErrors &e) {
    for (auto &error : e.errors())
      std::fprintf(stderr, "%s\n", error.to_string().c_str());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "tradehost send: %s\n", e.what());
    return 2;
  }
  auto source = gateway_config.sources.find(*source_name);
  if (source == gateway_config.sources.end()) {
    std::string known;
    for (auto &[name, s] : gateway_config.sources)
      known += (known.empty() ? "" : ", ") + name;
    std::fprintf(stderr, "tradehost send: %s has no gateway source '%s' (sources: %s)\n", config->c_str(),
                 source_name->c_str(), known.empty() ? "none" : known.c_str());
    return 2;
  }
  std::string url;
  if (auto given = parsed.value("--url")) {
    url = *given;
  } else {
    auto [host, port] = gateway::split_host_port(gateway_config.server.listen);
    if (host == "0.0.0.0" || host == "::")
      host = "127.0.0.1";
    if (host.find(':') != std::string::npos)
      host = "[" + host + "]";
    url = "http://" + host + ":" + std::to_string(port) + "/webhook/" + *source_name;
  }
  try {
    auto response =
        gateway::send_webhook(source->second, url, body, parsed.value("--idempotency-key").value_or(""));
    std::printf("%d\n%s\n", response.status, response.body.c_str());
    return response.status >= 200 && response.status < 300 ? 0 : 1;
  } catch (const std::invalid_argument &e) {
    std::fprintf(stderr, "tradehost send: %s\n", e.what());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "tradehost send: %s\n", e.what());
    return 1;
  }
}

} // namespace th::cli
