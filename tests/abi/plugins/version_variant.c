/* A descriptor that announces another ABI version: ABI_MAJOR/ABI_MINOR come from the build.
 * A different major may mean a different layout, so past the version prefix this struct is
 * nothing like th_plugin_descriptor: the host must stop reading at the version. */
#include <tradehost/plugin.h>

#include <stddef.h>

typedef struct other_descriptor {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  const char *something_else;
  void *(*not_create)(void);
} other_descriptor;

static const other_descriptor descriptor = {sizeof(other_descriptor), ABI_MAJOR, ABI_MINOR, "not a v1 layout",
                                            NULL};

TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  return (const th_plugin_descriptor *)(const void *)&descriptor;
}
