#include "config/deployment_schema.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef TRADEHOST_SCHEMA_DIR
#define TRADEHOST_SCHEMA_DIR ""
#endif

namespace th {

std::filesystem::path deployment_schema_path() {
  std::vector<std::filesystem::path> candidates;
  if (const char *dir = std::getenv("TRADEHOST_SCHEMA_DIR"); dir && *dir) {
    candidates.emplace_back(dir); // an explicit choice: no fallback that would hide a typo
  } else {
    if (*TRADEHOST_SCHEMA_DIR)
      candidates.emplace_back(TRADEHOST_SCHEMA_DIR);
    candidates.emplace_back("/usr/share/tradehost/schemas");
  }
  std::string looked;
  for (const auto &dir : candidates) {
    auto path = dir / "deployment.schema.json";
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec))
      return path;
    looked += (looked.empty() ? "" : ", ") + path.string();
  }
  throw std::runtime_error("deployment schema not found (looked at " + looked + ")");
}

} // namespace th
