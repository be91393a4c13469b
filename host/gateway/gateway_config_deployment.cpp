// Kept apart from gateway_config.cpp so code that parses a bare section does not link the
// deployment loader.
#include "config/deployment.hpp"
#include "gateway/gateway_config.hpp"

namespace th::gateway {

GatewayConfig parse_gateway_config(const Deployment &deployment) {
  return parse_gateway_config(deployment.gateway, [&deployment](std::string_view pointer) {
    return deployment.locate("/gateway" + std::string(pointer));
  });
}

} // namespace th::gateway
