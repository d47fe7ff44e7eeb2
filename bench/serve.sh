#!/usr/bin/env bash
# Serving benchmark for `condachan serve`, all in one run on one machine (only figures from
# the same run compare). It builds a local channel (2,000 small packages from
# ../shared/bench/make_channel.py, indexed, so repodata.json.zst has a realistic size, plus
# one 50 MB package built and published by condachan), then measures requests/s and
# latency for repodata.json.zst and the 50 MB package:
#   - local channel: condachan serve vs nginx serving the same folder (wrk), and for the
#     package also with bench/loadgen -discard, a client that lets the kernel drop bodies
#     unread: wrk copies 2+ GB/s into user space on one core and runs out of CPU before
#     either server does, so its package figure measures the client; with -discard the
#     servers' CPU is the limit
#   - S3 channel on versitygw: signed GETs straight to versitygw vs plain GETs through
#     condachan serve, and through condachan serve --redirect (bench/loadgen; wrk cannot
#     sign S3 requests), at full load and on one connection (the latency of the extra hop);
#     once with versitygw and the server sharing a CPU (the hop's copies compete with S3
#     for it) and once with the server on a CPU of its own (S3 and the client share the
#     other), which is how a server in front of remote S3 runs
# Every comparison runs ROUNDS times, alternating which side goes first; the summary
# prints medians and the ratios against the targets. With two or more CPUs the servers
# run on the last CPU and the load generators on the others (taskset), so that neither
# steals the other's core; the placement and the load average are printed.
#
#   bench/serve.sh [WORKDIR]     (default /tmp/condachan-serve-bench; needs ~400 MB free)
#   DURATION=10s ROUNDS=3 CONNS=32 PKG_CONNS=4 bench/serve.sh
#   CONDACHAN=/path/to/condachan bench/serve.sh   (use that binary instead of building one)
#
# Needs wrk and nginx (apt-get install wrk nginx; installed here when missing and run as
# root), python3-zstandard for make_channel.py, curl, and versitygw (found like the tests
# do: $CONDACHAN_TOOLS_DIR, .cache/tools, PATH, else go install into .cache/tools).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${CONDACHAN_SHARED_BENCH:-$repo/../shared/bench}
work=${1:-/tmp/condachan-serve-bench}
duration=${DURATION:-10s}
rounds=${ROUNDS:-3}
conns=${CONNS:-32}         # connections for repodata.json.zst
pkg_conns=${PKG_CONNS:-4}  # connections for the 50 MB package (each request moves 50 MB)
npkgs=${NPKGS:-2000}
mkdir -p "$work"
work=$(cd "$work" && pwd)

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if ! need wrk || ! need nginx; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx >/dev/null
  else
    echo "bench/serve.sh needs wrk and nginx: apt-get install wrk nginx" >&2; exit 2
  fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

vgw=""
for c in "${CONDACHAN_TOOLS_DIR:-}/versitygw" "$repo/.cache/tools/versitygw" "$(command -v versitygw || true)"; do
  if [ -n "$c" ] && [ -x "$c" ]; then vgw=$c; break; fi
done
if [ -z "$vgw" ]; then
  mkdir -p "$repo/.cache/tools"
  (cd "$repo" && GOBIN="$repo/.cache/tools" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)
  vgw="$repo/.cache/tools/versitygw"
fi

# CPU placement: servers on the last CPU, load generators on the rest.
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
  srv_cpus=$((ncpu - 1)); gen_cpus="0-$((ncpu - 2))"; gen_threads=$((ncpu - 1))
  # taskset execs the command, so $! of a background start is the server's own pid.
  on_srv=(taskset -c "$srv_cpus")
  on_gen=(taskset -c "$gen_cpus")
  placement="servers on CPU $srv_cpus, load generators on CPU $gen_cpus"
else
  gen_threads=1
  on_srv=(env)
  on_gen=(env)
  placement="no pinning ($ncpu CPU): servers and load generators share the cores"
fi

echo "== building"
if [ -n "${CONDACHAN:-}" ]; then
  cp "$CONDACHAN" "$work/condachan" # a binary built elsewhere
else
  (cd "$repo" && go build -o "$work/condachan" ./cmd/condachan)
fi
(cd "$repo" && go build -o "$work/loadgen" ./bench/loadgen)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

chan="$work/channel"
if [ ! -f "$chan/noarch/bigpkg-1.0-0.conda" ] || [ ! -f "$chan/linux-64/repodata.json.zst" ]; then
  echo "== making the channel ($npkgs small packages + one 50 MB package)"
  rm -rf "$chan" "$work/recipe" "$work/out"
  /usr/bin/python3 "$shared/make_channel.py" "$chan" "$npkgs" linux-64 >/dev/null
  mkdir -p "$work/recipe/data"
  head -c 50000000 /dev/urandom > "$work/recipe/data/blob.bin"
  cat > "$work/recipe/recipe.yaml" <<'YAML'
package:
  name: bigpkg
  version: "1.0"
source:
  path: data
build:
  noarch: generic
about:
  license: MIT
  summary: 50 MB of random bytes for the serving benchmark
YAML
  SOURCE_DATE_EPOCH=1700000000 "$work/condachan" build --recipe "$work/recipe" -o "$work/out" --progress none --compression fast >/dev/null
  "$work/condachan" publish "$work/out/noarch/bigpkg-1.0-0.conda" --channel "$chan" --progress none >/dev/null
  "$work/condachan" index --channel "$chan" --progress none >/dev/null
fi
zst="linux-64/repodata.json.zst"
pkg="noarch/bigpkg-1.0-0.conda"
printf 'repodata.json.zst: %s bytes (repodata.json %s bytes), package: %s bytes\n' \
  "$(stat -c %s "$chan/$zst")" "$(stat -c %s "$chan/linux-64/repodata.json")" "$(stat -c %s "$chan/$pkg")"

wait_http() { # url
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2; return 1
}

port_serve=18081 port_nginx=18082 port_vgw=18083 port_serve_s3=18084 port_redirect=18085
port_vgw2=18086 port_serve_s3b=18087
for p in $port_serve $port_nginx $port_vgw $port_serve_s3 $port_redirect $port_vgw2 $port_serve_s3b; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "port $p is taken (a server left over from an earlier run?)" >&2; exit 1
  fi
done

echo "== starting condachan serve and nginx on the local channel"
"${on_srv[@]}" "$work/condachan" serve --channel "$chan" --addr 127.0.0.1:$port_serve --access-log=false 2>"$work/serve-local.log" &
pids+=($!)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  types { application/json json; application/zstd zst; application/octet-stream conda; text/html html; }
  server {
    listen 127.0.0.1:$port_nginx;
    root $chan;
    location ~ /\. { return 404; }
  }
}
NGINX
mkdir -p "$work/nginx/tmp"
"${on_srv[@]}" "$nginx_bin" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_http "http://127.0.0.1:$port_serve/$zst"
wait_http "http://127.0.0.1:$port_nginx/$zst"
cmp <(curl -fsS "http://127.0.0.1:$port_serve/$pkg") "$chan/$pkg"
cmp <(curl -fsS "http://127.0.0.1:$port_nginx/$pkg") "$chan/$pkg"

results="$work/results.tsv"
: > "$results"
run_wrk() { # name connections url
  local out
  out=$("${on_gen[@]}" wrk -t"$gen_threads" -c"$2" -d"$duration" --timeout 60s --latency "$3")
  echo "$out" > "$work/$1.wrk"
  /usr/bin/python3 - "$1" "$work/$1.wrk" >> "$results" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[u]
lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
tr = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
mb = float(tr.group(1)) * {"B": 1e-6, "KB": 1.024e-3, "MB": 1.048576, "GB": 1073.741824}[tr.group(2)]
errs = int(re.search(r"Non-2xx or 3xx responses: (\d+)", text).group(1)) if "Non-2xx" in text else 0
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errs += sum(int(x) for x in sock.groups()) if sock else 0
print(f"{name}\t{rps:.1f}\t{mb:.1f}\t{ms(lat['50']):.2f}\t{ms(lat['90']):.2f}\t{ms(lat['99']):.2f}\t-\t{errs}")
PY
  tail -n 1 "$results"
}
run_lg() { # name connections mode args...
  local name=$1 c=$2; shift 2
  "${on_gen[@]}" "$work/loadgen" "$@" -name "$name" -c "$c" -d "$duration" | tee -a "$results"
}

echo "== S3 channel on versitygw"
export AWS_ACCESS_KEY_ID=condachan-bench AWS_SECRET_ACCESS_KEY=condachan-bench-secret-0123456789
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
rm -rf "$work/vgw" && mkdir -p "$work/vgw"
"${on_srv[@]}" "$vgw" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --region us-east-1 \
  --port 127.0.0.1:$port_vgw posix "$work/vgw" >"$work/versitygw.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  "$work/loadgen" mb -endpoint "http://127.0.0.1:$port_vgw" -bucket bench 2>/dev/null && break
  sleep 0.1
done
"$work/loadgen" upload -endpoint "http://127.0.0.1:$port_vgw" -bucket bench -prefix Conda/Default "$chan"
s3chan=(--channel s3://bench/Conda/Default --endpoint-url "http://127.0.0.1:$port_vgw" --s3-path-style --region us-east-1)
"${on_srv[@]}" "$work/condachan" serve "${s3chan[@]}" --addr 127.0.0.1:$port_serve_s3 --access-log=false 2>"$work/serve-s3.log" &
pids+=($!)
"${on_srv[@]}" "$work/condachan" serve "${s3chan[@]}" --addr 127.0.0.1:$port_redirect --access-log=false --redirect 2>"$work/serve-redirect.log" &
pids+=($!)
# The same bucket from a second versitygw on the load generator's CPU, and a server on
# its own CPU in front of it: S3 and its client then share one core in both cases, and
# the server has the other to itself, as a server in front of remote S3 would.
"${on_gen[@]}" "$vgw" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --region us-east-1 \
  --port 127.0.0.1:$port_vgw2 posix "$work/vgw" >"$work/versitygw2.log" 2>&1 &
pids+=($!)
s3chan2=(--channel s3://bench/Conda/Default --endpoint-url "http://127.0.0.1:$port_vgw2" --s3-path-style --region us-east-1)
"${on_srv[@]}" "$work/condachan" serve "${s3chan2[@]}" --addr 127.0.0.1:$port_serve_s3b --access-log=false 2>"$work/serve-s3b.log" &
pids+=($!)
wait_http "http://127.0.0.1:$port_serve_s3/$zst"
wait_http "http://127.0.0.1:$port_redirect/$zst"
wait_http "http://127.0.0.1:$port_serve_s3b/$zst"
cmp <(curl -fsS "http://127.0.0.1:$port_serve_s3/$pkg") "$chan/$pkg"
cmp <(curl -fsSL "http://127.0.0.1:$port_redirect/$pkg") "$chan/$pkg"


# Each comparison runs ROUNDS times, alternating which side goes first, so that a change
# in the machine's load during the run hits both sides alike; the summary takes medians.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
echo "local: wrk -t$gen_threads -c$conns (zst) / -c$pkg_conns (pkg) -d$duration --timeout 60s --latency"
echo "S3:    bench/loadgen -c $conns (zst) / -c $pkg_conns (pkg) -d $duration"
echo "$placement; $rounds rounds"
vgwurl="http://127.0.0.1:$port_vgw"
vgwurl2="http://127.0.0.1:$port_vgw2"
for round in $(seq "$rounds"); do
  echo "== round $round"
  pair() { # a-command b-command: run both, alternating the order by round
    if [ $((round % 2)) = 1 ]; then eval "$1"; eval "$2"; else eval "$2"; eval "$1"; fi
  }
  pair 'run_wrk nginx-zst "$conns" "http://127.0.0.1:$port_nginx/$zst"' \
       'run_wrk serve-zst "$conns" "http://127.0.0.1:$port_serve/$zst"'
  pair 'run_wrk nginx-pkg "$pkg_conns" "http://127.0.0.1:$port_nginx/$pkg"' \
       'run_wrk serve-pkg "$pkg_conns" "http://127.0.0.1:$port_serve/$pkg"'
  pair 'run_lg nginx-pkg-discard "$pkg_conns" get -discard -url "http://127.0.0.1:$port_nginx/$pkg"' \
       'run_lg serve-pkg-discard "$pkg_conns" get -discard -url "http://127.0.0.1:$port_serve/$pkg"'
  pair 'run_lg direct-zst "$conns" s3get -endpoint "$vgwurl" -bucket bench -key "Conda/Default/$zst"' \
       'run_lg s3serve-zst "$conns" get -url "http://127.0.0.1:$port_serve_s3/$zst"'
  pair 'run_lg direct-pkg "$pkg_conns" s3get -endpoint "$vgwurl" -bucket bench -key "Conda/Default/$pkg"' \
       'run_lg s3serve-pkg "$pkg_conns" get -url "http://127.0.0.1:$port_serve_s3/$pkg"'
  run_lg redirect-pkg "$pkg_conns" get -url "http://127.0.0.1:$port_redirect/$pkg"
  # One connection: the latency the extra hop adds, without queueing.
  pair 'run_lg direct-zst-c1 1 s3get -endpoint "$vgwurl" -bucket bench -key "Conda/Default/$zst"' \
       'run_lg s3serve-zst-c1 1 get -url "http://127.0.0.1:$port_serve_s3/$zst"'
  pair 'run_lg direct-pkg-c1 1 s3get -endpoint "$vgwurl" -bucket bench -key "Conda/Default/$pkg"' \
       'run_lg s3serve-pkg-c1 1 get -url "http://127.0.0.1:$port_serve_s3/$pkg"'
  # The server on its own CPU (S3 and the client share the other).
  pair 'run_lg own-direct-pkg "$pkg_conns" s3get -endpoint "$vgwurl2" -bucket bench -key "Conda/Default/$pkg"' \
       'run_lg own-serve-pkg "$pkg_conns" get -url "http://127.0.0.1:$port_serve_s3b/$pkg"'
  pair 'run_lg own-direct-pkg-c1 1 s3get -endpoint "$vgwurl2" -bucket bench -key "Conda/Default/$pkg"' \
       'run_lg own-serve-pkg-c1 1 get -url "http://127.0.0.1:$port_serve_s3b/$pkg"'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$results" "$placement" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    runs.setdefault(f[0], []).append(f)
med = {n: [statistics.median(float(r[i]) for r in rs) for i in range(1, 6)] + [sum(int(r[7]) for r in rs)] for n, rs in runs.items()}
print()
print(f"medians of {max(len(r) for r in runs.values())} runs each; {sys.argv[2]}")
print(f"{'run':14} {'req/s':>9} {'MB/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}")
for n, m in med.items():
    print(f"{n:14} {m[0]:9.1f} {m[1]:8.1f} {m[2]:8.2f} {m[3]:8.2f} {m[4]:8.2f} {m[5]:7d}")
def r(a, b): return med[a][0] / med[b][0]
print()
for what, how in (("zst", "wrk"), ("pkg", "wrk, client-bound"), ("pkg-discard", "loadgen -discard, server-bound")):
    if 'serve-'+what in med:
        print(f"local {what} ({how}): condachan serve {r('serve-'+what, 'nginx-'+what)*100:.0f}% of nginx's req/s (target >= 80%); "
              f"p99 {med['serve-'+what][4]:.2f} ms vs {med['nginx-'+what][4]:.2f} ms")
for what in ("zst", "pkg"):
    ov = (1 / r('s3serve-'+what, 'direct-'+what) - 1) * 100
    print(f"S3 {what}: through condachan serve {r('s3serve-'+what, 'direct-'+what)*100:.0f}% of direct req/s "
          f"({ov:+.0f}% time per request; target <= +10%); p99 {med['s3serve-'+what][4]:.2f} ms vs {med['direct-'+what][4]:.2f} ms direct")
print(f"S3 pkg with --redirect: {r('redirect-pkg', 'direct-pkg')*100:.0f}% of direct req/s; p99 {med['redirect-pkg'][4]:.2f} ms")
for what in ("zst", "pkg"):
    d, s = med['direct-'+what+'-c1'], med['s3serve-'+what+'-c1']
    print(f"S3 {what}, one connection: p50 {s[2]:.2f} ms through condachan serve vs {d[2]:.2f} ms direct ({(s[2]/d[2]-1)*100:+.0f}%); "
          f"p99 {s[4]:.2f} vs {d[4]:.2f} ms")
if "own-serve-pkg" in med:
    ov = (1 / r('own-serve-pkg', 'own-direct-pkg') - 1) * 100
    d, s = med['own-direct-pkg-c1'], med['own-serve-pkg-c1']
    print(f"S3 pkg, server on its own CPU: {r('own-serve-pkg', 'own-direct-pkg')*100:.0f}% of direct req/s ({ov:+.0f}% time per request); "
          f"one connection p50 {s[2]:.2f} ms vs {d[2]:.2f} ms direct ({(s[2]/d[2]-1)*100:+.0f}%)")
PY
