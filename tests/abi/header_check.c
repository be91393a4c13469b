/* plugin.h as a C99 translation unit under -Wpedantic -Werror. It also checks, at compile time,
 * the layout facts the ABI relies on (no hidden padding before the first pointer). */
#include <tradehost/plugin.h>

typedef char check_str_size[sizeof(th_str) == 2 * sizeof(void *) ? 1 : -1];
typedef char check_descriptor_prefix[offsetof(th_plugin_descriptor, name) == 16 ? 1 : -1];
typedef char check_signal_prefix[offsetof(th_signal, corr_id) == 8 ? 1 : -1];
typedef char check_api_prefix[offsetof(th_host_api, log) == 8 ? 1 : -1];

int tradehost_header_check_c(void);
int tradehost_header_check_c(void) {
  th_signal signal = {0};
  signal.struct_size = sizeof signal;
  return TH_HAS_FIELD(&signal, th_signal, extra_json) ? 0 : 1;
}
