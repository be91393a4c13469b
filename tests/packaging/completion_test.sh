#!/usr/bin/env bash
# `tradehost completion bash` is a valid bash script that completes sub-commands and options,
# and offers exactly the options each command's --help documents.
# Usage: completion_test.sh TRADEHOST_BINARY
set -euo pipefail
tradehost=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/tradehost-completion-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$tradehost" completion bash >"$work/completion.bash"
bash -n "$work/completion.bash" || fail "the completion script does not parse"
if "$tradehost" completion zsh >/dev/null 2>"$work/zsh.err"; then fail "completion zsh should be refused"; fi
grep -q "only: bash" "$work/zsh.err" || fail "completion zsh: no reason given"

# complete WORD... : what bash offers for the last word (the completion function, no terminal).
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tradehost; printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' \
    _ "$work/completion.bash" "$@"
}
expect() { # EXPECTED WORD...
  local want=$1 got
  shift
  got=$(complete_words "$@")
  [ "$got" = "$want" ] || fail "completing '$*': got '$got', want '$want'"
}
bash -c 'source "$1"; complete -p tradehost' _ "$work/completion.bash" | grep -q -- '-F _tradehost' ||
  fail "the script does not register _tradehost for tradehost"
expect "validate " tradehost va
expect "replay run " tradehost r
all=$(complete_words tradehost "")
for command in run validate plugins replay send audit trading-state completion; do
  grep -qw "$command" <<<"$all" || fail "sub-command $command is not offered: $all"
done
expect "verify " tradehost audit ve
expect "bash " tradehost completion ""
expect "halted " tradehost trading-state h
expect "--role " tradehost run --r
expect "agent all audit " tradehost run --role a
expect "--pubkey " tradehost audit verify --pu
touch "$work/deploy.yaml" "$work/notes.txt"
(cd "$work" && expect "deploy.yaml " tradehost validate -c "")

# Every option a command's --help documents is offered, and nothing else.
# Documented options: every --option of the Usage line, and the option that starts each option line.
options_in_help() {
  "$tradehost" "$@" --help | python3 -c '
import re, sys
found = set()
for line in sys.stdin:
    if line.startswith("Usage:"):
        found.update(re.findall(r"--[a-z][a-z-]*", line))
    else:
        m = re.match(r"\s+(?:-[a-z], )?(--[a-z][a-z-]*)", line)
        if m:
            found.add(m.group(1))
print("\n".join(sorted(found)))'
}
offered() { complete_words tradehost "$@" -- | tr ' ' '\n' | { grep -E -- '^--' || true; } | { grep -vx -- '--help' || true; } | sort -u; }
for command in run validate plugins replay send trading-state "audit verify" "audit export" "audit keygen" "audit head"; do
  # shellcheck disable=SC2086  # "audit verify" is two words
  help=$(options_in_help $command | grep -vx -- '--help' || true)
  # shellcheck disable=SC2086
  comp=$(offered $command)
  [ "$help" = "$comp" ] || fail "tradehost $command: --help documents [$(echo $help)] but completion offers [$(echo $comp)]"
done
echo "completion_test: all passed"
