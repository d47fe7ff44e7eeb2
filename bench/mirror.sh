#!/usr/bin/env bash
# Mirror benchmark: a lock of N packages (default 2,000 small ones from
# ../shared/bench/make_channel.py, plus 4 packages of 64 MiB of incompressible data, so
# that peak memory shows whether packages are ever held whole) served over HTTP by
# `condachan serve` on loopback, mirrored with `condachan mirror --lock`:
#   1. into a fresh folder channel,
#   2. into a fresh S3 channel (versitygw on loopback),
#   3. `mirror pack` into a bundle, then `mirror --from BUNDLE` into a fresh S3 channel
#      with the upstream server stopped,
# ROUNDS times each (medians): wall time, peak RSS, S3 requests, and the most packages
# fetched and uploaded at once (in_flight from --json).
#   bench/mirror.sh [WORKDIR] [N]       (defaults /tmp/condachan-mirror-bench, 2000)
#   ROUNDS=3 JOBS=8
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${CONDACHAN_SHARED_BENCH:-$repo/../shared/bench}
work=${1:-/tmp/condachan-mirror-bench}
n=${2:-2000}
rounds=${ROUNDS:-3}
jobs=${JOBS:-8}
mkdir -p "$work"
cd "$repo" && go build -o "$work/condachan" ./cmd/condachan
cc="$work/condachan"
results="$work/results.tsv"
: > "$results"
source "$repo/bench/lib.sh"

# The upstream channel and its lock (explicit, #sha256: fragments).
if [ ! -f "$work/upstream/.made-$n" ]; then
  rm -rf "$work/upstream"
  /usr/bin/python3 "$shared/make_channel.py" "$work/upstream" "$n" >/dev/null
  /usr/bin/python3 - "$work/upstream/linux-64" <<'PY'
import io, json, os, sys, tarfile, zipfile
import zstandard
out = sys.argv[1]
for i in range(4):
    stem = f"bigpkg{i}-1.0-0"
    data = os.urandom(64 << 20)
    def tar_zst(members):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for name, d in members:
                ti = tarfile.TarInfo(name); ti.size = len(d); ti.mtime = 1700000000
                tf.addfile(ti, io.BytesIO(d))
        return zstandard.ZstdCompressor(level=1).compress(buf.getvalue())
    import hashlib
    idx = {"name": f"bigpkg{i}", "version": "1.0", "build": "0", "build_number": 0, "depends": [], "subdir": "linux-64", "timestamp": 1700000000000, "license": "MIT"}
    paths = {"paths_version": 1, "paths": [{"_path": "share/big.bin", "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(), "size_in_bytes": len(data)}]}
    with zipfile.ZipFile(os.path.join(out, stem + ".conda"), "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        zf.writestr(f"pkg-{stem}.tar.zst", tar_zst([("share/big.bin", data)]))
        zf.writestr(f"info-{stem}.tar.zst", tar_zst([("info/index.json", json.dumps(idx).encode()), ("info/paths.json", json.dumps(paths).encode())]))
PY
  "$cc" index --channel "$work/upstream" --progress none >/dev/null
  touch "$work/upstream/.made-$n"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$cc" serve --channel "$work/upstream" --addr "127.0.0.1:$port" > "$work/upstream-serve.log" 2>&1 &
upid=$!
pids=("$upid")
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/linux-64/repodata.json" && break; sleep 0.2; done
/usr/bin/python3 - "$work/upstream/linux-64/repodata.json" "http://127.0.0.1:$port/linux-64" > "$work/env.lock" <<'PY'
import json, sys
recs = json.load(open(sys.argv[1]))["packages.conda"]
print("# platform: linux-64\n@EXPLICIT")
for fn in sorted(recs):
    print(f"{sys.argv[2]}/{fn}#sha256:{recs[fn]['sha256']}")
PY
total=$(grep -c '^http' "$work/env.lock")
bytes=$(du -sb "$work/upstream/linux-64" | cut -f1)
echo "lock: $total packages, $((bytes >> 20)) MiB upstream"

# S3: versitygw on loopback.
vgw=${CONDACHAN_TOOLS_DIR:-$repo/.cache/tools}/versitygw
if [ ! -x "$vgw" ]; then GOBIN=$(dirname "$vgw") go install github.com/versity/versitygw/cmd/versitygw@v1.8.0; fi
vport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf "$work/vgw" && mkdir -p "$work/vgw"
"$vgw" --access benchkey --secret benchsecret0123456789 --port "127.0.0.1:$vport" posix "$work/vgw" > "$work/vgw.log" 2>&1 &
pids+=("$!")
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret0123456789 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$vport" CONDACHAN_S3_PATH_STYLE=true
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$vport" && break; sleep 0.2; done

# One line per run: requests and packages in flight, from --json.
flight() { python3 -c "
import json,sys
t=open(sys.argv[1]).read(); d=json.loads(t[t.index('{'):]); r=d.get('requests') or {}; f=d['in_flight']
req=f\"{r['total']} S3 requests (LIST {r['list']}, HEAD {r['head']}, GET {r['get']}, PUT {r['put']}, DELETE {r['delete']}, POST {r['post']})\" if r else 'folder'
print(f\"    {sys.argv[2]}: {d['uploaded']} uploaded, {req}; in flight at most: fetching {f['fetching']}, uploading {f['uploading']}, both at once {f['overlap']}\")" "$1" "$2"; }

for r in $(seq "$rounds"); do
  rm -rf "$work/folder" "$work/cache" "$work/vgw/bench$r" "$work/vgw/bundle$r" "$work/env.bundle"
  mkdir -p "$work/vgw/bench$r" "$work/vgw/bundle$r"
  measure mirror-folder - "$cc" mirror --lock "$work/env.lock" --channel "$work/folder" --cache "$work/cache" --jobs "$jobs" --progress none --json
  flight "$work/mirror-folder.log" folder
  rm -rf "$work/cache"
  measure mirror-s3 - "$cc" mirror --lock "$work/env.lock" --channel "s3://bench$r/Conda/Default" --cache "$work/cache" --jobs "$jobs" --progress none --json
  flight "$work/mirror-s3.log" s3
  measure pack "$work/env.bundle" "$cc" mirror pack --lock "$work/env.lock" -o "$work/env.bundle" --cache "$work/cache" --jobs "$jobs" --progress none
done
kill "$upid"
for r in $(seq "$rounds"); do
  measure mirror-bundle-s3 - "$cc" mirror --from "$work/env.bundle" --channel "s3://bundle$r/Conda/Default" --cache "$work/cache" --jobs "$jobs" --progress none --json
  flight "$work/mirror-bundle-s3.log" "bundle to s3 (upstream stopped)"
done
summarize
