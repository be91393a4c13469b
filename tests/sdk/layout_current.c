/* The current layout: compiled with plugin-api/include, the header the host is built with. */
#define LAYOUT_TABLE current_layout
#define LAYOUT_ROWS current_layout_rows
#include "layout_table.inc"

/* ABI 1.1's additions: only the current header has them. */
#include "abi_v1_1_list.h"

const abi_layout_row current_v1_1_layout[] = {ABI_V1_1_FIELDS(FIELD_ROW) ABI_V1_1_CONSTANTS(CONSTANT_ROW)};
const size_t current_v1_1_layout_rows = sizeof current_v1_1_layout / sizeof current_v1_1_layout[0];
