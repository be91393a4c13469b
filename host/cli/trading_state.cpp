// `tradehost trading-state -c FILE [active|reducing|halted]`: shows or sets a running host's
// trading state through its admin endpoint (POST /admin/trading-state). Only parses and prints:
// the host stores the state and answers whether it took effect.
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "config/deployment.hpp"
#include "gateway/gateway_config.hpp"
#include "gateway/http_server.hpp"
#include "gateway/webhook_client.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace th::cli {
namespace {

const char *const help =
    R"(Usage: tradehost trading-state -c FILE [active|reducing|halted] [--reason TEXT] [--url URL]

Without a state, prints the running host's trading state; with one, sets it and prints what the
host stored. The host persists it in data_dir/trading_state.json before answering and restores it
at start. States:
  active    intents go to the risk chain
  reducing  only intents that reduce the agent's position pass (rule trading_reducing)
  halted    no intent passes (rule trading_halted); executors' working orders are cancelled

Options:
  -c, --config FILE   the deployment: its admin token (admin.trading_state_token or admin.token)
                      and its gateway.listen address
      --url URL       the host's base URL instead (e.g. http://127.0.0.1:8002 for an agent process)
      --reason TEXT   recorded with the change (audit event trading_state_changed)
      --json          print the host's answer as JSON
  -h, --help          this help

Exit codes: 0 done, 1 the host refused or could not store it (its reason is printed), 2 usage or
configuration error.
)";

} // namespace

int trading_state_command(const Args &args) {
  ParsedArgs a;
  try {
    a = parse_args(
        args, {{"--config", "-c", true}, {"--url", "", true}, {"--reason", "", true}, {"--json", "", false}});
  } catch (const UsageError &e) {
    std::fprintf(stderr, "tradehost trading-state: %s\n\n%s", e.what(), help);
    return 2;
  }
  if (a.has("--help")) {
    std::fputs(help, stdout);
    return 0;
  }
  if (!a.value("--config") || a.positional.size() > 1) {
    std::fprintf(stderr, "tradehost trading-state: need -c FILE and at most one state\n\n%s", help);
    return 2;
  }
  std::string state;
  if (!a.positional.empty()) {
    state = a.positional.front();
    if (state != "active" && state != "reducing" && state != "halted") {
      std::fprintf(stderr, "tradehost trading-state: unknown state '%s' (active, reducing, halted)\n",
                   state.c_str());
      return 2;
    }
  }
  std::string token, url;
  try {
    Deployment d = load_deployment(*a.value("--config"));
    token = d.admin.value("trading_state_token", d.admin.value("token", std::string()));
    if (auto given = a.value("--url")) {
      url = *given;
    } else {
      auto [host, port] = gateway::split_host_port(gateway::parse_gateway_config(d).server.listen);
      if (host == "0.0.0.0" || host == "::")
        host = "127.0.0.1";
      if (host.find(':') != std::string::npos)
        host = "[" + host + "]";
      url = "http://" + host + ":" + std::to_string(port);
    }
  } catch (const ConfigErrors &e) {
    for (auto &error : e.errors())
      std::fprintf(stderr, "%s\n", error.to_string().c_str());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "tradehost trading-state: %s\n", e.what());
    return 2;
  }
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  gateway::HeaderList headers{{"Authorization", "Bearer " + token}};
  gateway::ClientResponse r;
  try {
    if (state.empty()) {
      r = gateway::http_request("GET", url + "/admin/trading-state", "", headers);
    } else {
      nlohmann::json body = {{"state", state},
                             {"reason", a.value("--reason").value_or("tradehost trading-state")}};
      headers.emplace_back("Content-Type", "application/json");
      r = gateway::http_request("POST", url + "/admin/trading-state", body.dump(), headers);
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "tradehost trading-state: %s: %s\n", url.c_str(), e.what());
    return 1;
  }
  auto answer = nlohmann::json::parse(r.body, nullptr, false);
  if (a.has("--json")) {
    std::printf("%s\n", r.body.c_str());
  } else if (r.status == 200 && answer.is_object()) {
    if (answer.contains("previous"))
      std::printf("%s (was %s)\n", answer.value("state", "").c_str(), answer.value("previous", "").c_str());
    else
      std::printf("%s\n", answer.value("state", "").c_str());
  }
  if (r.status != 200) {
    std::string detail = answer.is_object() ? answer.value("detail", r.body) : r.body;
    std::fprintf(stderr, "tradehost trading-state: HTTP %d: %s\n", r.status, detail.c_str());
    return 1;
  }
  return 0;
}

} // namespace th::cli
