#!/usr/bin/env bash
# First-start set-up for configs/dev.yaml: the data directory and the audit checkpoint signing
# key (created once, kept afterwards).
set -euo pipefail
data_dir=${TRADEHOST_DATA_DIR:-./var}
bin=${TRADEHOST_BIN:-./build/bin/tradehost}
mkdir -p "$data_dir"
if [ ! -f "$data_dir/audit-signing.key" ]; then
  "$bin" audit keygen --out "$data_dir/audit-signing"
  echo "created audit signing key $data_dir/audit-signing.key (public: $data_dir/audit-signing.pub)"
fi
if [ -z "${TRADEHOST_WEBHOOK_SECRET:-}" ]; then
  echo "note: webhook source 'test' uses the development secret; set TRADEHOST_WEBHOOK_SECRET for anything real"
fi
