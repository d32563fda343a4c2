#!/usr/bin/env bash
# A throw-away local Prometheus that scrapes one driftline and evaluates its rules.
#
#   run.sh start --target HOST:PORT [--dir DIR] [--rules FILE]
#       renders deploy/prometheus/prometheus.local.yml.tmpl into DIR, starts `prometheus` on a
#       free 127.0.0.1 port (TSDB in DIR/data, log in DIR/prometheus.log), waits until /-/ready
#       and prints http://127.0.0.1:PORT as the last line of its output.
#   run.sh stop [--dir DIR]
#       SIGTERM, wait up to 20 s, then SIGKILL; only the process recorded in DIR/prometheus.pid,
#       and only if it is a prometheus started with DIR's config.
#   run.sh status [--dir DIR]
#       prints the URL and exits 0 if running, exits 1 otherwise.
#
# DIR defaults to deploy/local/prometheus/run (git-ignored). Needs `prometheus` (Debian package
# `prometheus`, which also brings `promtool`) and python3 (free-port lookup, readiness probe).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
template="$root/deploy/prometheus/prometheus.local.yml.tmpl"

die() { echo "run.sh: $*" >&2; exit 1; }
usage() {
  sed -n '3,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
cmd="$1"; shift
target=""
dir="$here/run"
rules="$root/deploy/prometheus/driftline.rules.yml"
while [ $# -gt 0 ]; do
  case "$1" in
    --target) [ $# -ge 2 ] || usage; target="$2"; shift 2 ;;
    --target=*) target="${1#*=}"; shift ;;
    --dir) [ $# -ge 2 ] || usage; dir="$2"; shift 2 ;;
    --dir=*) dir="${1#*=}"; shift ;;
    --rules) [ $# -ge 2 ] || usage; rules="$2"; shift 2 ;;
    --rules=*) rules="${1#*=}"; shift ;;
    -h|--help) usage ;;
    *) die "unknown argument: $1" ;;
  esac
done

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
pidfile="$dir/prometheus.pid"
portfile="$dir/prometheus.port"
config="$dir/prometheus.yml"
log="$dir/prometheus.log"

# Prints the pid recorded in DIR if that process is alive and is our prometheus; else nothing.
our_pid() {
  [ -f "$pidfile" ] || return 0
  local pid
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  [ -r "/proc/$pid/cmdline" ] || return 0
  if tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "--config.file=$config"; then
    echo "$pid"
  fi
}

# kill -0 succeeds on zombies (no init reaping in some containers): also check the state.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo X)"
  [ "$state" != "Z" ] && [ "$state" != "X" ]
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

is_ready() {
  python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/-/ready", timeout=1) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

start() {
  [ -n "$target" ] || die "start needs --target HOST:PORT"
  [[ "$target" =~ ^[^[:space:]\"]+:[0-9]+$ ]] || die "--target must be HOST:PORT, got '$target'"
  command -v prometheus >/dev/null || die "prometheus not found (apt-get install prometheus)"
  [ -f "$rules" ] || die "rules file not found: $rules"
  rules="$(cd "$(dirname "$rules")" && pwd)/$(basename "$rules")"
  local running
  running="$(our_pid)"
  [ -z "$running" ] || die "already running in $dir (pid $running, http://127.0.0.1:$(cat "$portfile"))"

  local content
  content="$(cat "$template")"
  content="${content//__TARGET__/"$target"}"
  content="${content//__RULES_FILE__/"$rules"}"
  printf '%s\n' "$content" > "$config"
  if command -v promtool >/dev/null; then
    promtool check config "$config" >"$dir/promtool.log" 2>&1 \
      || { cat "$dir/promtool.log" >&2; die "rendered config $config is invalid"; }
  fi
  mkdir -p "$dir/data"

  local attempt port pid url deadline
  for attempt in 1 2 3; do
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    # setsid + redirected stdio: the server outlives this script and holds none of its pipes.
    setsid prometheus \
      --config.file="$config" \
      --storage.tsdb.path="$dir/data" \
      --storage.tsdb.retention.time=1d \
      --web.listen-address="127.0.0.1:$port" \
      --web.enable-lifecycle \
      >"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" > "$pidfile"
    echo "$port" > "$portfile"
    deadline=$((SECONDS + 60))
    while [ $SECONDS -lt $deadline ]; do
      if ! alive "$pid"; then
        break
      fi
      if is_ready "$url"; then
        echo "prometheus pid $pid, config $config, log $log"
        echo "$url"
        return 0
      fi
      sleep 0.2
    done
    if alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      die "prometheus (pid $pid) not ready after 60 s; see $log"
    fi
    rm -f "$pidfile" "$portfile"
    if grep -q "address already in use" "$log"; then
      echo "run.sh: port $port taken (attempt $attempt), retrying" >&2
      continue
    fi
    tail -n 20 "$log" >&2 || true
    die "prometheus exited during start-up; see $log"
  done
  die "could not bind a free port after 3 attempts"
}

stop() {
  local pid
  pid="$(our_pid)"
  if [ -z "$pid" ]; then
    rm -f "$pidfile" "$portfile"
    echo "not running ($dir)"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 20))
  while alive "$pid" && [ $SECONDS -lt $deadline ]; do
    sleep 0.2
  done
  if alive "$pid"; then
    echo "run.sh: prometheus pid $pid ignored SIGTERM for 20 s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  fi
  rm -f "$pidfile" "$portfile"
  echo "stopped prometheus pid $pid"
}

status() {
  local pid
  pid="$(our_pid)"
  [ -n "$pid" ] || { echo "not running ($dir)"; return 1; }
  echo "http://127.0.0.1:$(cat "$portfile")"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  -h|--help|help) usage ;;
  *) die "unknown command: $cmd (start|stop|status)" ;;
esac
