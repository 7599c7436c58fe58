#!/usr/bin/env bash
# Run every native Go fuzz target (func FuzzXxx(f *testing.F)) of the module,
# one at a time, for a while each, and print what each did.
#
#   scripts/fuzz.sh [duration] [packages]
#
# duration is go test's -fuzztime (default 60s: a minute each; "10000x" runs
# that many inputs); packages is a go package pattern (default ./...).
# FUZZ_PARALLEL sets the fuzzing processes per target (default: one per CPU;
# 1 leaves the machine to others), FUZZ_MINIMIZE how long a new input is
# minimised (default 2s: longer eats a short run).
#
# Plain `go test` runs each target's seeds (its f.Add calls and
# testdata/fuzz/<Target>/) as a normal test. A failure found here is
# written to <package>/testdata/fuzz/<Target>/ and from then on is one of
# those seeds: fix the bug, keep the file. The corpus grown while fuzzing
# stays in the Go cache ($(go env GOCACHE)/fuzz) and is used by later runs.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-60s}
packages=${2:-./...}
minimize=${FUZZ_MINIMIZE:-2s}
parallel=()
if [[ -n ${FUZZ_PARALLEL:-} ]]; then parallel=(-parallel "$FUZZ_PARALLEL"); fi

# "package target" lines: go test -list prints a package's matching names,
# then its "ok <package>" line.
mapfile -t targets < <(go test -list '^Fuzz' "$packages" | awk '
  /^Fuzz/ { names[n++] = $1; next }
  /^ok/   { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }')
if ((${#targets[@]} == 0)); then
  echo "fuzz: no fuzz targets in $packages" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, $duration each" >&2

log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=()
failed=0
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "fuzz: $pkg $name" >&2
  start=$SECONDS
  if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$duration" -fuzzminimizetime="$minimize" \
    "${parallel[@]}" "$pkg" 2>&1 | tee "$log" >&2; then
    verdict=ok
  else
    verdict=FAIL
    failed=1
  fi
  # From the last progress line, "fuzz: elapsed: 60s, execs: 123456 (2057/sec),
  # new interesting: 3 (total: 70)": inputs run, their rate over the run,
  # and the corpus.
  stats=$(grep -o 'elapsed: [0-9]*s, execs: [0-9]* ([0-9]*/sec), new interesting: [0-9]* (total: [0-9]*)' "$log" | tail -n 1 |
    awk '{ s = $2 + 0; printf "%d inputs (%d/s), %d new in a corpus of %d", $4, s ? $4 / s : 0, $8, $10 + 0 }' || true)
  summary+=("$(printf '%-4s %-44s %-18s %4ds  %s' "$verdict" "$pkg" "$name" $((SECONDS - start)) "${stats:-no progress line}")")
done

echo >&2
printf '%s\n' "${summary[@]}"
if ((failed)); then
  echo "fuzz: a target failed; its input is in <package>/testdata/fuzz/<Target>/ (see above)" >&2
  exit 1
fi
