// plugin.h (and the C++ helper) as C++ under -Wpedantic -Werror.
#include <tradehost/plugin.h>
#include <tradehost/plugin.hpp>

static_assert(sizeof(th_str) == 2 * sizeof(void *));
static_assert(offsetof(th_plugin_descriptor, name) == 16);
static_assert(offsetof(th_order_intent, side) % 8 == 0);

int tradehost_header_check_cpp();
int tradehost_header_check_cpp() {
  th_order_intent intent{};
  intent.struct_size = offsetof(th_order_intent, max_position);
  return TH_HAS_FIELD(&intent, th_order_intent, strategy) &&
                 !TH_HAS_FIELD(&intent, th_order_intent, max_position)
             ? 0
             : 1;
}
