/* The current layout: compiled with plugin-api/include, the header the host is built with. */
#define LAYOUT_TABLE current_layout
#define LAYOUT_ROWS current_layout_rows
#include "layout_table.inc"
