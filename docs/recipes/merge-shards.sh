#!/usr/bin/env bash
# Merge the shards' result files into one, in input order, and check that every row of the
# input was answered exactly once and every answer was a 2xx.
#
#   merge-shards.sh ROWS.jsonl RESULTS.jsonl [SHARD.jsonl ...]    (default: out.*.jsonl)
#
# Exit 0: RESULTS holds one line per input row, all 2xx. Exit 1: some row is missing or
# answered twice (RESULTS is written all the same). Exit 75: every row is there once but
# some failed: run their shards again with --resume, then merge again.
#
# Order: lines are sorted on their custom_id read as a number (llmcli numbers the lines
# that have none), so numeric custom_ids come back in input order; any others come first,
# in text order. Result lines pass through byte for byte, and sort(1) spills to disk, so
# millions of rows need little memory. Needs bash, python3 and coreutils.
set -euo pipefail
rows=$1 results=$2
shift 2
(($#)) || set -- out.*.jsonl
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
export LC_ALL=C

# custom_id TAB line; a JSON string holds no raw tab or newline, so cut(1) gives each line
# back unchanged
cat -- "$@" | python3 -c '
import json, sys
for line in sys.stdin:
    sys.stdout.write(json.loads(line)["custom_id"] + "\t" + line)
' | sort -t "$(printf '\t')" -k1,1n -k1,1 | cut -f2- >"$results"

# the custom_ids the input asks for (a line without a usable one gets its line number, as
# llmcli gives it), those answered, and how many answers were not a 2xx
python3 - "$rows" "$results" "$work" <<'PY'
import json, sys

rows, results, work = sys.argv[1:]
with open(f"{work}/want", "w") as want:
    for number, line in enumerate(open(rows, encoding="utf-8"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        custom_id = row.get("custom_id") if isinstance(row, dict) else None
        print(custom_id if isinstance(custom_id, str) and custom_id else number, file=want)
failed = 0
with open(f"{work}/have", "w") as have:
    for line in open(results, encoding="utf-8"):
        row = json.loads(line)
        print(row["custom_id"], file=have)
        status = (row.get("response") or {}).get("status_code") or 0
        failed += not 200 <= status < 300
print(failed, file=open(f"{work}/failed", "w"))
PY
sort -o "$work/want" "$work/want"
sort -o "$work/have" "$work/have"
missing=$(comm -23 "$work/want" "$work/have" | wc -l)
twice=$(uniq -d "$work/have" | wc -l)
extra=$(uniq "$work/have" | comm -13 "$work/want" - | wc -l)
failed=$(cat "$work/failed")
echo "merge-shards: $(wc -l <"$results") rows in $results; missing $missing, twice $twice," \
    "not in the input $extra, failed $failed" >&2
((missing == 0 && twice == 0 && extra == 0)) || exit 1
((failed == 0)) || exit 75
