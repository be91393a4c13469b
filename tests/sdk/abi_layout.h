/* One row per struct (field == ""), field, or constant (type == "const") of the ABI, as the
 * compiler laid it out for one copy of <tradehost/plugin.h>. */
#ifndef ABI_LAYOUT_H
#define ABI_LAYOUT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct abi_layout_row {
  const char *type;
  const char *field;
  size_t offset; /* offsetof, or 0 for a struct row; the value for a constant */
  size_t size;   /* sizeof of the field or of the struct */
} abi_layout_row;

extern const abi_layout_row frozen_v1_0_layout[];
extern const size_t frozen_v1_0_layout_rows;
extern const abi_layout_row current_layout[];
extern const size_t current_layout_rows;
extern const abi_layout_row current_v1_1_layout[]; /* ABI 1.1's additions, current header */
extern const size_t current_v1_1_layout_rows;

#ifdef __cplusplus
}
#endif

#endif /* ABI_LAYOUT_H */
