// `tradehost plugins -c FILE [--json]`: what the deployment's plugin_dirs hold, with each
// library's identity, and every file that was refused and why. Refusals are warnings (exit 0).
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "config/deployment.hpp"
#include "loader/plugin_allowlist.hpp"
#include "loader/plugin_registry.hpp"
#include "observability/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

namespace th::cli {
namespace {

constexpr const char *usage =
    "usage: tradehost plugins -c FILE [--json]\n"
    "\n"
    "Loads every *.so in the deployment's plugin_dirs and lists the plugins (name, kind,\n"
    "version, ABI, SHA-256 prefix, path) and the files refused with the reason. With a\n"
    "plugin_allowlist, a library it does not admit is refused before it is mapped.\n"
    "\n"
    "Agents of the deployment whose strategy plugin is not loaded are listed as waiting: the\n"
    "host runs them once the plugin arrives in plugin_dirs.\n"
    "\n"
    "  -c, --config FILE  deployment file\n"
    "      --json         print {\"plugins\": [...], \"refused\": [...], \"waiting\": [...]} instead of a "
    "table\n";

std::string abi_of(const PluginIdentity &id) {
  return std::to_string(id.abi_major) + "." + std::to_string(id.abi_minor);
}

nlohmann::json to_json(const PluginIdentity &id) {
  return {{"name", id.name},
          {"version", id.version},
          {"kind", kind_name(id.kind)},
          {"abi", abi_of(id)},
          {"description", id.description},
          {"thread_safe", (id.flags & TH_PLUGIN_FLAG_THREAD_SAFE) != 0},
          {"path", id.path.string()},
          {"sha256", id.sha256}};
}

struct Waiting {
  std::string agent, plugin;
};

// Enabled agents whose strategy plugin is not among the loaded libraries.
std::vector<Waiting> waiting_agents(const Deployment &deployment, const PluginRegistry &registry) {
  std::vector<Waiting> waiting;
  for (const auto &a : deployment.agents)
    if (a.enabled && !registry.find(a.strategy.plugin))
      waiting.push_back({a.id, a.strategy.plugin});
  return waiting;
}

void print_table(const std::vector<std::shared_ptr<PluginLibrary>> &libraries,
                 const std::vector<LoadRefusal> &refused, const std::vector<Waiting> &waiting) {
  std::vector<std::vector<std::string>> rows{{"NAME", "KIND", "VERSION", "ABI", "SHA256", "PATH"}};
  for (const auto &library : libraries) {
    const PluginIdentity &id = library->identity();
    rows.push_back({id.name, std::string(kind_name(id.kind)), id.version, abi_of(id), id.sha256.substr(0, 12),
                    id.path.string()});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto &row : rows)
    for (size_t c = 0; c < row.size(); ++c)
      widths[c] = std::max(widths[c], row[c].size());
  for (const auto &row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size())
        line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    std::cout << line << '\n';
  }
  if (libraries.empty())
    std::cout << "(no plugins loaded)\n";
  if (!refused.empty()) {
    std::cout << "\nrefused:\n";
    for (const auto &r : refused)
      std::cout << "  " << r.reason << '\n';
  }
  if (!waiting.empty()) {
    std::cout << "\nwaiting (agents whose plugin is not loaded; they start when it arrives):\n";
    for (const auto &w : waiting)
      std::cout << "  " << w.agent << "  plugin " << w.plugin << '\n';
  }
}

} // namespace

int plugins_command(const Args &args) {
  ParsedArgs parsed;
  try {
    parsed = parse_args(args, {{"--config", "-c", true}, {"--json", "", false}});
  } catch (const UsageError &e) {
    std::cerr << "tradehost plugins: " << e.what() << "\n\n" << usage;
    return 2;
  }
  if (parsed.has("--help")) {
    std::cout << usage;
    return 0;
  }
  auto config = parsed.value("--config");
  if (!config || !parsed.positional.empty()) {
    std::cerr << "tradehost plugins: "
              << (config ? "unexpected argument " + parsed.positional[0] : "-c FILE is required") << "\n\n"
              << usage;
    return 2;
  }

  Deployment deployment;
  try {
    deployment = load_deployment(*config);
  } catch (const ConfigErrors &e) {
    std::cerr << e.what() << '\n';
    return 2;
  } catch (const std::exception &e) {
    std::cerr << "tradehost plugins: " << *config << ": " << e.what() << '\n';
    return 2;
  }

  // The listing is the output; per-plugin log lines would only repeat it on stderr.
  log::set_level(log::Level::error);
  PluginRegistry registry;
  // The deployment's allowlist judges each library before it is mapped, as the host does: an
  // unlisted, tampered or unsigned library runs no code here either and is listed as refused.
  std::optional<TemporaryPluginCache> cache;
  if (plugin_allowlist(deployment).enabled()) {
    try {
      cache.emplace();
    } catch (const std::exception &e) {
      std::cerr << "tradehost plugins: " << e.what() << '\n';
      return 1;
    }
    registry.set_load_options(load_options_for(deployment, cache->path()));
  }
  registry.scan(deployment.plugin_dirs);
  const auto libraries = registry.libraries();
  const auto refused = registry.refusals();
  const auto waiting = waiting_agents(deployment, registry);

  if (parsed.has("--json")) {
    nlohmann::json out = {{"plugins", nlohmann::json::array()},
                          {"refused", nlohmann::json::array()},
                          {"waiting", nlohmann::json::array()}};
    for (const auto &w : waiting)
      out["waiting"].push_back({{"agent", w.agent}, {"plugin", w.plugin}, {"state", "waiting"}});
    for (const auto &library : libraries)
      out["plugins"].push_back(to_json(library->identity()));
    for (const auto &r : refused)
      out["refused"].push_back({{"path", r.path.string()}, {"reason", r.reason}});
    std::cout << out.dump(2) << '\n';
  } else {
    print_table(libraries, refused, waiting);
  }
  return 0;
}

} // namespace th::cli
