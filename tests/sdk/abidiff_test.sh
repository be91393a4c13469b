#!/usr/bin/env bash
# abidiff (Debian abigail-tools) between libraries built from the frozen v1.0 header and the
# current one: no change beyond the growth ABI 1.x allows (abi_v1.abignore). The deliberately
# broken header must be reported, or the check proves nothing.
# Usage: abidiff_test.sh SUPPRESSIONS FROZEN.so CURRENT.so MUTANT.so
set -uo pipefail
suppressions=$1 frozen=$2 current=$3 mutant=$4
command -v abidiff >/dev/null || { echo "FAIL: abidiff is missing (Debian package abigail-tools)" >&2; exit 1; }
abidiff --suppressions "$suppressions" "$frozen" "$current"
status=$?
[ "$status" = 0 ] || { echo "FAIL: the current plugin.h breaks ABI v1.0 (abidiff exit $status)" >&2; exit 1; }
echo "ok: current plugin.h is ABI-compatible with v1.0"
abidiff --suppressions "$suppressions" "$frozen" "$mutant" >/tmp/abidiff-mutant.$$ 2>&1
status=$?
grep -q "inserted_by_test" /tmp/abidiff-mutant.$$
found=$?
rm -f /tmp/abidiff-mutant.$$
[ "$status" != 0 ] && [ "$found" = 0 ] || { echo "FAIL: abidiff missed a field inserted into th_signal" >&2; exit 1; }
echo "ok: a field inserted into th_signal is reported (abidiff exit $status)"
echo "abidiff_test: 2 passed, 0 failed"
