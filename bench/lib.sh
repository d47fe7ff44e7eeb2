# Shared by the side-by-side benchmark scripts (sourced): they set $work and $results.
#   measure NAME OUTPUT|- COMMAND...   runs COMMAND under /usr/bin/time and appends
#                                      name, wall s, peak RSS KiB and output size to $results
#   summarize [A:B ...]                prints medians per name, and for each A:B pair how
#                                      much faster A ran than B and its size difference

measure() {
  local name=$1 out=$2; shift 2
  local log="$work/$name.log"
  sync
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$log" 2>&1 || { echo "$name failed:"; tail "$log"; exit 1; }
  local size=0
  [ "$out" != "-" ] && size=$(stat -c %s "$out")
  read -r wall rss < "$work/$name.time"
  printf '%s\t%s\t%s\t%s\n' "$name" "$wall" "$rss" "$size" | tee -a "$results"
}

summarize() {
  /usr/bin/python3 - "$results" "$@" <<'PY'
import sys, statistics
rows = {}
for l in open(sys.argv[1]):
    n, w, r, s = l.rstrip("\n").split("\t")
    rows.setdefault(n, []).append((float(w), int(r), int(s)))
med = {n: (statistics.median(x[0] for x in v), max(x[1] for x in v), statistics.median(x[2] for x in v), len(v)) for n, v in rows.items()}
print()
print(f"{'run':24} {'wall s (median)':>16} {'peak RSS MiB':>13} {'size MB':>9} {'runs':>5}")
for n, (w, r, s, k) in med.items():
    print(f"{n:24} {w:16.1f} {r/1024:13.0f} {s/1e6:9.2f} {k:5d}")
print()
for pair in sys.argv[2:]:
    a, b = pair.split(":")
    if a not in med or b not in med:
        continue
    x, y = med[a], med[b]
    size = f", size {x[2]/y[2]*100-100:+.2f}%" if x[2] and y[2] else ""
    print(f"{a} vs {b}: {y[0]/x[0]:.2f}x faster{size}, peak RSS {x[1]/1024:.0f} MiB ({y[1]/1024:.0f})")
PY
}
