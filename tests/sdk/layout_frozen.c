/* The v1.0 layout: compiled with tests/abi-v1.0 (the frozen header) as its only SDK path. */
#define LAYOUT_TABLE frozen_v1_0_layout
#define LAYOUT_ROWS frozen_v1_0_layout_rows
#include "layout_table.inc"
