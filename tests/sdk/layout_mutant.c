/* A deliberately broken v1.x: the frozen header with a field inserted in the middle of
 * th_signal (CMake writes it into the build tree). The test checks the comparison catches it. */
#define LAYOUT_TABLE mutant_layout
#define LAYOUT_ROWS mutant_layout_rows
#include "layout_table.inc"
