#!/usr/bin/env bash
# Index benchmarks, side by side in one run:
#   1. a 10,000-package local channel (../shared/bench/make_channel.py) indexed cold by
#      condachan with sharded repodata (the default) and with --no-shards, ROUNDS times
#      each (medians), and by conda-index when CONDA_INDEX names a command that runs it
#      (e.g. a wrapper around `python3 -m conda_index` from a checkout); the two
#      repodata.json files are compared byte for byte;
#   2. the same channel on S3 (a local versitygw): a cold `index --full` with and without
#      shards (index state and shards removed from the server's folder before each), then
#      one more package uploaded by hand and `condachan index`, and `condachan publish` of
#      one more package: wall time, S3 request count and shards rendered and written.
#   bench/index.sh [WORKDIR] [N]        (defaults /tmp/condachan-index-bench, 10000)
#   ROUNDS=3 (cold runs per side)
#   CONDACHAN=/path/to/condachan bench/index.sh   (use that binary instead of building one)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${CONDACHAN_SHARED_BENCH:-$repo/../shared/bench}
work=${1:-/tmp/condachan-index-bench}
n=${2:-10000}
rounds=${ROUNDS:-3}
mkdir -p "$work"
cd "$repo"
if [ -n "${CONDACHAN:-}" ]; then
  cp "$CONDACHAN" "$work/condachan" # a binary built elsewhere
else
  go build -o "$work/condachan" ./cmd/condachan
fi
cc="$work/condachan"

if [ ! -d "$work/source/linux-64" ] || [ "$(ls "$work/source/linux-64" | wc -l)" != "$n" ]; then
  rm -rf "$work/source"
  /usr/bin/python3 "$shared/make_channel.py" "$work/source" "$n" >/dev/null
fi
secs() { /usr/bin/time -f "%e" -o "$work/t" "$@" > "$work/out.log" 2>&1 || { cat "$work/out.log"; exit 1; }; cat "$work/t"; }

median() { python3 -c 'import statistics,sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.2f}")' "$@"; }
sh_times=() ns_times=()
for r in $(seq "$rounds"); do
  rm -rf "$work/cc" "$work/ccn" && cp -r "$work/source" "$work/cc" && cp -r "$work/source" "$work/ccn"
  sh_times+=("$(secs "$cc" index --channel "$work/cc" --progress none)")
  ns_times+=("$(secs "$cc" index --channel "$work/ccn" --progress none --no-shards)")
done
t_cc=$(median "${sh_times[@]}")
t_ccn=$(median "${ns_times[@]}")
echo "cold index of $n packages, local channel, median of $rounds: with shards ${t_cc}s (${sh_times[*]}), --no-shards ${t_ccn}s (${ns_times[*]}): shards cost $(python3 -c "print(f'{($t_cc/$t_ccn-1)*100:+.0f}%')")"
echo "  $(ls "$work/cc/linux-64/shards" | wc -l) shards, shard index $(stat -c %s "$work/cc/linux-64/repodata_shards.msgpack.zst") bytes, repodata.json.zst $(stat -c %s "$work/cc/linux-64/repodata.json.zst") bytes"
rm -rf "$work/ci" && cp -r "$work/source" "$work/ci"
if [ -n "${CONDA_INDEX:-}" ]; then
  t_ci=$(secs $CONDA_INDEX "$work/ci")
  echo "cold index of $n packages, local channel: conda-index ${t_ci}s ($(python3 -c "print(f'{$t_ci/$t_cc:.1f}')")x condachan's time)"
  if cmp -s "$work/cc/linux-64/repodata.json" "$work/ci/linux-64/repodata.json"; then
    echo "repodata.json: byte-identical to conda-index's"
  else
    echo "repodata.json: DIFFERS from conda-index's"
  fi
else
  echo "(set CONDA_INDEX to a command running conda-index to compare)"
fi
t_warm=$(secs "$cc" index --channel "$work/cc" --progress none)
echo "no-op re-index, local channel: condachan ${t_warm}s"

# S3: versitygw on loopback.
vgw=${CONDACHAN_TOOLS_DIR:-$repo/.cache/tools}/versitygw
if [ ! -x "$vgw" ]; then GOBIN=$(dirname "$vgw") go install github.com/versity/versitygw/cmd/versitygw@v1.8.0; fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf "$work/vgw" && mkdir -p "$work/vgw"
"$vgw" --access benchkey --secret benchsecret0123456789 --port "127.0.0.1:$port" posix "$work/vgw" > "$work/vgw.log" 2>&1 &
vpid=$!
trap 'kill $vpid 2>/dev/null' EXIT
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret0123456789 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$port" CONDACHAN_S3_PATH_STYLE=true
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port" && break; sleep 0.2; done
mkdir -p "$work/vgw/bench"
url=s3://bench/Conda/Default
echo "uploading $n packages to $url ..."
t_pub=$(secs "$cc" publish --channel "$url" --progress none "$work"/source/linux-64/*.conda)
echo "publish of $n packages in one process (upload + cold index on S3): ${t_pub}s"
report() { python3 -c "
import json,sys
d=json.load(open(sys.argv[1])); r=d['s3_requests']
idx=d.get('index', d) or {}
sh=[(s['subdir'], s.get('shards_rendered',0), s.get('shards_written',0)) for s in (idx.get('subdirs') or [])]
print(f\"{r['total']} S3 requests (LIST {r['list']}, HEAD {r['head']}, GET {r['get']}, PUT {r['put']}, DELETE {r['delete']}, POST {r['post']}); shards rendered/written: \" + (', '.join(f'{a} {b}/{c}' for a,b,c in sh) or 'none (group commit)'))" "$1"; }
# Cold index on S3 with and without shards: the state (and the shards) are removed from
# the server's folder first, so that every package is read again and every shard written.
chan="$work/vgw/bench/Conda/Default"
sh_times=() ns_times=()
for r in $(seq "$rounds"); do
  rm -rf "$chan/.condachan/index" "$chan/linux-64/shards"
  /usr/bin/time -f "%e" -o "$work/t" "$cc" index --channel "$url" --full --shards --json --progress none > "$work/cold-sh.json" 2>"$work/cold.err" || { cat "$work/cold.err"; exit 1; }
  sh_times+=("$(cat "$work/t")")
  rm -rf "$chan/.condachan/index"
  /usr/bin/time -f "%e" -o "$work/t" "$cc" index --channel "$url" --full --no-shards --json --progress none > "$work/cold-ns.json" 2>"$work/cold.err" || { cat "$work/cold.err"; exit 1; }
  ns_times+=("$(cat "$work/t")")
done
t_s3sh=$(median "${sh_times[@]}")
t_s3ns=$(median "${ns_times[@]}")
echo "cold index --full of $n packages on S3, median of $rounds: with shards ${t_s3sh}s (${sh_times[*]}), --no-shards ${t_s3ns}s (${ns_times[*]}): shards cost $(python3 -c "print(f'{($t_s3sh/$t_s3ns-1)*100:+.0f}%')")"
echo "  with shards: $(report "$work/cold-sh.json")"
echo "  without:     $(report "$work/cold-ns.json")"
"$cc" index --channel "$url" --shards --progress none > /dev/null 2>&1
# Two more linux-64 packages, built by condachan from a folder recipe.
mkdir -p "$work/extra-recipe/payload/share/extra"
echo "extra" > "$work/extra-recipe/payload/share/extra/README"
cat > "$work/extra-recipe/recipe.yaml" <<'YAML'
package:
  name: bench-extra
  version: "1.0"
source:
  path: payload
YAML
rm -rf "$work/extra-out"
"$cc" build --recipe "$work/extra-recipe" --target-platform linux-64 --build-number 1 -o "$work/extra-out" --progress none >/dev/null
"$cc" build --recipe "$work/extra-recipe" --target-platform linux-64 --build-number 2 -o "$work/extra-out" --progress none >/dev/null
hand="$work/extra-out/linux-64/bench-extra-1.0-1.conda"
# A hand upload (plain PUT, no condachan metadata), signed with SigV4 by a few lines of
# Python so that the benchmark needs no AWS CLI.
python3 - "$hand" "$port" <<'PY'
import sys, hashlib, hmac, datetime, urllib.request, os
path, port = sys.argv[1], sys.argv[2]
data = open(path, 'rb').read()
key, secret, region = "benchkey", "benchsecret0123456789", "us-east-1"
now = datetime.datetime.now(datetime.timezone.utc); amz = now.strftime('%Y%m%dT%H%M%SZ'); day = now.strftime('%Y%m%d')
uri = "/bench/Conda/Default/linux-64/" + os.path.basename(path)
ph = hashlib.sha256(data).hexdigest()
host = f"127.0.0.1:{port}"
canon = f"PUT\n{uri}\n\nhost:{host}\nx-amz-content-sha256:{ph}\nx-amz-date:{amz}\n\nhost;x-amz-content-sha256;x-amz-date\n{ph}"
scope = f"{day}/{region}/s3/aws4_request"
sts = f"AWS4-HMAC-SHA256\n{amz}\n{scope}\n{hashlib.sha256(canon.encode()).hexdigest()}"
def h(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()
k = h(h(h(h(("AWS4"+secret).encode(), day), region), "s3"), "aws4_request")
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
req = urllib.request.Request(f"http://{host}{uri}", data=data, method="PUT", headers={
  "x-amz-date": amz, "x-amz-content-sha256": ph,
  "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}"})
urllib.request.urlopen(req).read()
PY
/usr/bin/time -f "%e" -o "$work/t" "$cc" index --channel "$url" --json --progress none > "$work/inc.json" 2>"$work/inc.err" || { cat "$work/inc.err"; exit 1; }
echo "incremental index after one hand-uploaded package ($n in the channel): $(cat "$work/t")s, $(report "$work/inc.json")"
echo "  (listing $((n + 2)) objects of the whole channel takes $(( (n + 1000) / 1000 + 1 )) pages of 1,000)"
/usr/bin/time -f "%e" -o "$work/t" "$cc" publish --channel "$url" --json --progress none "$work/extra-out/linux-64/bench-extra-1.0-2.conda" > "$work/pub1.json" 2>"$work/pub1.err" || { cat "$work/pub1.err"; exit 1; }
echo "publish of one more package (upload, lease, incremental index of linux-64): $(cat "$work/t")s, $(report "$work/pub1.json")"
