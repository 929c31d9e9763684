#!/usr/bin/env bash
# run-fuzz.sh TARGET CORPUS: fuzz for FUZZ_SECONDS on a copy of the seed
# corpus (the checked-in corpus stays as it is); a crash fails the test and
# leaves its input in the build directory.
set -uo pipefail
target=$1 corpus=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus/." "$work/"
"$target" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$(pwd)/$(basename "$target")-" -print_final_stats=1 "$work" > "$work.log" 2>&1
rc=$?
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|Done [0-9]+ runs)' "$work.log"
[ $rc -eq 0 ] || tail -n 40 "$work.log"
rm -f "$work.log"
exit $rc
