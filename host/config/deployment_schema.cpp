#include "config/deployment_schema.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef TRADEHOST_SCHEMA_DIR
#define TRADEHOST_SCHEMA_DIR ""
#endif

namespace th {

std::filesystem::path schema_path(std::string_view file_name) {
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
    auto path = dir / file_name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec))
      return path;
    looked += (looked.empty() ? "" : ", ") + path.string();
  }
  throw std::runtime_error(std::string(file_name) + " not found (looked at " + looked + ")");
}

std::filesystem::path deployment_schema_path() {
  return schema_path("deployment.schema.json");
}

} // namespace th
