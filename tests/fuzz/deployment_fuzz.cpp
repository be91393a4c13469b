// Fuzz: the deployment loader on any text: YAML with anchors, aliases and merge keys, ${VAR}
// and ${VAR:-default} expansion (a few variables are set), the schema and the cross-field
// rules. It refuses with ConfigErrors only, within its limits on size, values and depth.
#include "config/deployment.hpp"
#include "observability/log.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  ::setenv("TRADEHOST_SCHEMA_DIR", TRADEHOST_SOURCE_DIR "/schemas", 1);
  ::setenv("FUZZ_PORT", "8001", 1);
  ::setenv("FUZZ_NAME", "fuzz", 1);
  ::setenv("FUZZ_EMPTY", "", 1);
  ::setenv("FUZZ_LIST", "[1, 2]", 1);
  th::log::set_level(th::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  try {
    th::load_deployment_text(text, "fuzz.yaml");
  } catch (const th::ConfigErrors &) {
  }
  return 0;
}
