#!/usr/bin/env python3
"""Independent check of the tradehost audit format (docs/audit-format.md), written from the
document alone with the Python standard library: recomputes every row hash of a chain and checks
the links and positions.

usage: recompute.py DB                 a SQLite database written by the audit-sqlite plugin
       recompute.py --vectors FILE     a JSON-lines file as `tradehost audit export` writes it
exit:  0 every hash matches, 1 a mismatch (the first is printed), 2 unreadable input
"""
import decimal
import hashlib
import json
import math
import sqlite3
import sys

GENESIS = "sha256:" + "0" * 64


def number(x):
    """ECMAScript Number.prototype.toString of the double nearest to x."""
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("non-finite number")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    t = decimal.Decimal(repr(abs(x))).as_tuple()  # repr: shortest round-trip digits
    digits, exp = "".join(map(str, t.digits)), t.exponent
    while len(digits) > 1 and digits.endswith("0"):
        digits, exp = digits[:-1], exp + 1
    k, n = len(digits), len(digits) + exp  # value = 0.d1..dk * 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return sign + mantissa + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def canon(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(canon(e) for e in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))  # UTF-16 code-unit order
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canon(v[k]) for k in keys) + "}"
    raise TypeError(type(v))


def row_hash(row):
    fields = ("chain_position", "correlation_id", "data", "event_id", "event_type",
              "previous_hash", "service", "timestamp")
    message = canon({f: row[f] for f in fields}).encode("utf-8")
    return "sha256:" + hashlib.sha256(message).hexdigest()


def check(rows):
    previous, expected, count = GENESIS, 1, 0
    for row in rows:
        p = row["chain_position"]
        if p != expected:
            return f"position {expected}: gap or reordering (found row {p})"
        if row["previous_hash"] != previous:
            return f"position {p}: previous_hash {row['previous_hash']} is not {previous}"
        computed = row_hash(row)
        if computed != row["hash"]:
            return f"position {p}: stored {row['hash']}, recomputed {computed}"
        previous, expected, count = row["hash"], expected + 1, count + 1
    print(f"ok: {count} rows recomputed, head {previous}")
    return None


def db_rows(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cur = con.execute("SELECT chain_position, event_id, correlation_id, event_type, timestamp, service, "
                      "data, previous_hash, hash FROM events ORDER BY chain_position")
    names = [d[0] for d in cur.description]
    for values in cur:
        row = dict(zip(names, values))
        data = json.loads(row["data"])
        if canon(data) != row["data"]:
            raise SystemExit(f"position {row['chain_position']}: stored data is not canonical:\n"
                             f"  stored    {row['data']}\n  canonical {canon(data)}")
        row["data"] = data
        yield row


def vector_rows(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                if canon(row) != line.rstrip("\n"):
                    raise SystemExit(f"position {row.get('chain_position')}: line is not canonical")
                yield row


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "--vectors":
            problem = check(vector_rows(argv[2]))
        elif len(argv) == 2:
            problem = check(db_rows(argv[1]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (OSError, sqlite3.Error, ValueError) as e:
        print(f"unreadable: {e}", file=sys.stderr)
        return 2
    if problem:
        print(f"MISMATCH at {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
