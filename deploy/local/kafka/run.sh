#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined controller+broker) for development
# and integration tests, run from Maven Central jars: no Docker, no mock.
#
#   run.sh start   [--dir DIR]   resolve jars (first time), format (first time), start, wait
#                                until it serves metadata; prints 127.0.0.1:PORT as LAST line
#   run.sh stop    [--dir DIR]   SIGTERM, bounded wait, then SIGKILL
#   run.sh restart [--dir DIR]   stop + start (same ports, same data)
#   run.sh status  [--dir DIR]   exit 0 and print the address if serving; 3 if stopped; 1 if
#                                the process is alive but does not serve metadata
#
# The run dir (default deploy/local/kafka/run, or $KAFKA_RUN_DIR, or --dir) holds
# server.properties, ports.env, cluster.id, data/, broker.log and broker.pid. A `start` on a
# dir that was started before reuses its ports and its data (no reformat), so a stop/start
# keeps every message.
#
# Environment:
#   KAFKA_RUN_DIR        run dir (overridden by --dir)
#   PYTHON               python with confluent_kafka for the readiness probe
#                        (default: <repo>/.venv/bin/python if present, else python3)
#   DRIFTLINE_M2         local Maven repository (default deploy/local/kafka/.m2)
#   KAFKA_VERSION        org.apache.kafka:kafka_2.13 version (default: the pom's)
#   KAFKA_HEAP_OPTS      default "-Xmx768m -Xms256m"
#   KAFKA_JVM_OPTS       extra JVM options
#   KAFKA_START_TIMEOUT  seconds to wait for metadata (default 90)
#   KAFKA_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 30)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../../.." && pwd)"
LIB_DIR="$HERE/target/lib"
STAMP="$LIB_DIR/.resolved"
M2_DIR="${DRIFTLINE_M2:-$HERE/.m2}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx768m -Xms256m}"

log() { printf 'kafka/run.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
  echo "usage: $(basename "$0") start|stop|restart|status [--dir DIR]" >&2
  exit 2
}

# ---------------------------------------------------------------- arguments
CMD=""
RUN_DIR="${KAFKA_RUN_DIR:-$HERE/run}"
while [ $# -gt 0 ]; do
  case "$1" in
    start|stop|restart|status)
      [ -z "$CMD" ] || usage
      CMD="$1"; shift ;;
    --dir)
      [ $# -ge 2 ] || usage
      RUN_DIR="$2"; shift 2 ;;
    --dir=*)
      RUN_DIR="${1#--dir=}"; shift ;;
    -h|--help) usage ;;
    *) log "unknown argument: $1"; usage ;;
  esac
done
[ -n "$CMD" ] || usage
mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"

DATA_DIR="$RUN_DIR/data"
PROPS="$RUN_DIR/server.properties"
PORTS_FILE="$RUN_DIR/ports.env"
PID_FILE="$RUN_DIR/broker.pid"
BROKER_LOG="$RUN_DIR/broker.log"
CLUSTER_ID_FILE="$RUN_DIR/cluster.id"
LOG4J_CONF="$RUN_DIR/log4j2.properties"

if [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
elif [ -x "$REPO_ROOT/.venv/bin/python" ]; then
  PY="$REPO_ROOT/.venv/bin/python"
else
  PY="python3"
fi

if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA="java"
fi

# ---------------------------------------------------------------- helpers
fail_with_log() {
  log "ERROR: $*"
  if [ -f "$BROKER_LOG" ]; then
    log "---- last 60 lines of $BROKER_LOG ----"
    tail -n 60 "$BROKER_LOG" >&2 || true
    log "---- end of $BROKER_LOG ----"
  fi
  exit 1
}

# The pid in broker.pid, if that process is alive and is OUR broker (guards against pid reuse).
broker_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $PROPS" || return 1
  fi
  echo "$pid"
}

load_ports() {
  # shellcheck disable=SC1090
  . "$PORTS_FILE"
  if [ -z "${PORT:-}" ] || [ -z "${CONTROLLER_PORT:-}" ]; then die "bad $PORTS_FILE"; fi
}

# Two distinct free ports on 127.0.0.1, from the kernel (bind to port 0).
pick_ports() {
  python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

port_free() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

# Resolve the broker's jars into target/lib once; later runs are offline.
resolve_jars() {
  local want=""
  [ -z "${KAFKA_VERSION:-}" ] || want="$KAFKA_VERSION"
  if [ -f "$STAMP" ] && ls "$LIB_DIR"/kafka_2.13-*.jar >/dev/null 2>&1; then
    if [ -z "$want" ] || grep -qx "$want" "$STAMP"; then
      return 0
    fi
  fi
  command -v mvn >/dev/null || die "maven (mvn) is required to fetch the Kafka jars"
  mkdir -p "$HERE/target"
  (
    # Serialize concurrent first-time resolutions (parallel test sessions).
    if command -v flock >/dev/null; then
      exec 9>"$HERE/target/.resolve.lock"
      flock -w 600 9 || die "timed out waiting for $HERE/target/.resolve.lock"
    fi
    if [ -f "$STAMP" ] && ls "$LIB_DIR"/kafka_2.13-*.jar >/dev/null 2>&1 \
        && { [ -z "$want" ] || grep -qx "$want" "$STAMP"; }; then
      exit 0
    fi
    rm -rf "$LIB_DIR"
    local mvn_args=(-q -B -f "$HERE/pom.xml" "-Dmaven.repo.local=$M2_DIR")
    [ -z "$want" ] || mvn_args+=("-Dkafka.version=$want")
    log "resolving Kafka jars with Maven into $LIB_DIR (first run only) ..."
    if ! mvn "${mvn_args[@]}" package >"$HERE/target/mvn.log" 2>&1; then
      tail -n 40 "$HERE/target/mvn.log" >&2 || true
      die "mvn failed (full log: $HERE/target/mvn.log)"
    fi
    ls "$LIB_DIR"/kafka_2.13-*.jar >/dev/null 2>&1 || die "no kafka_2.13 jar in $LIB_DIR"
    local jars=("$LIB_DIR"/kafka_2.13-*.jar)
    basename "${jars[0]}" .jar | sed 's/^kafka_2\.13-//' >"$STAMP"
  )
}

# Sed-escape a replacement string.
sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

render_config() {
  sed -e "s|@PORT@|$PORT|g" \
      -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
      -e "s|@LOG_DIR@|$(sed_escape "$DATA_DIR")|g" \
      "$HERE/server.properties" >"$PROPS.tmp"
  mv "$PROPS.tmp" "$PROPS"
  cat >"$LOG4J_CONF" <<'EOF'
# Written by run.sh: everything to stdout, which run.sh appends to broker.log.
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${sys:driftline.kafka.loglevel:-INFO}
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.zk.name = org.apache.kafka.clients.NetworkClient
logger.zk.level = WARN
EOF
}

# Kafka-style cluster id: 16 random bytes, url-safe base64 without padding, not starting '-'.
new_cluster_id() {
  python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break
'
}

format_storage() {
  if [ -f "$DATA_DIR/meta.properties" ]; then
    return 0
  fi
  local cid
  if [ -s "$CLUSTER_ID_FILE" ]; then
    cid="$(cat "$CLUSTER_ID_FILE")"
  else
    cid="$(new_cluster_id)"
    echo "$cid" >"$CLUSTER_ID_FILE"
  fi
  mkdir -p "$DATA_DIR"
  log "formatting $DATA_DIR (cluster id $cid)"
  if ! "$JAVA" -Xmx256m -cp "$LIB_DIR/*" "-Dlog4j2.configurationFile=$LOG4J_CONF" \
      -Ddriftline.kafka.loglevel=WARN \
      kafka.tools.StorageTool format --standalone --ignore-formatted \
      -t "$cid" -c "$PROPS" >>"$BROKER_LOG" 2>&1; then
    fail_with_log "storage format failed"
  fi
}

# Probe: does the broker at $1 serve metadata? With a pid ($3), give up early if it died.
probe() {
  local bootstrap="$1" timeout="$2" pid="${3:-0}"
  "$PY" - "$bootstrap" "$timeout" "$pid" "$BROKER_LOG" <<'EOF'
import os, socket, sys, time
bootstrap, timeout, pid, log = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
host, port = bootstrap.rsplit(":", 1)
deadline = time.monotonic() + timeout

def alive():
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False

try:
    from confluent_kafka.admin import AdminClient
except ImportError:  # no confluent_kafka here: fall back to TCP + the broker's own log line
    AdminClient = None

admin = None
if AdminClient is not None:
    # log_level 0: no librdkafka "connection refused" noise while the broker boots.
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000,
                         "log_level": 0})
while time.monotonic() < deadline:
    if not alive():
        print("broker process exited", file=sys.stderr)
        sys.exit(2)
    left = max(0.5, min(3.0, deadline - time.monotonic()))
    try:
        if admin is not None:
            md = admin.list_topics(timeout=left)
            if md.brokers:
                sys.exit(0)
        else:
            with socket.create_connection((host, int(port)), timeout=left):
                pass
            with open(log, errors="replace") as f:
                if "Kafka Server started" in f.read():
                    sys.exit(0)
    except Exception:
        pass
    time.sleep(0.25)
sys.exit(1)
EOF
}

# ---------------------------------------------------------------- commands
do_start() {
  local pid
  if pid="$(broker_pid)"; then
    load_ports
    log "already running (pid $pid) in $RUN_DIR"
    probe "127.0.0.1:$PORT" "$START_TIMEOUT" "$pid" \
      || fail_with_log "running broker (pid $pid) does not serve metadata"
    echo "127.0.0.1:$PORT"
    return 0
  fi
  rm -f "$PID_FILE"
  command -v "$JAVA" >/dev/null || die "java (17+) is required"
  resolve_jars

  if [ -f "$PORTS_FILE" ]; then
    load_ports   # restart: same ports as before
    for p in "$PORT" "$CONTROLLER_PORT"; do
      port_free "$p" || die "port $p (remembered in $PORTS_FILE) is in use by another process"
    done
  else
    read -r PORT CONTROLLER_PORT < <(pick_ports)
    printf 'PORT=%s\nCONTROLLER_PORT=%s\n' "$PORT" "$CONTROLLER_PORT" >"$PORTS_FILE"
  fi

  render_config
  printf '\n===== run.sh start %s (port %s, controller %s) =====\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PORT" "$CONTROLLER_PORT" >>"$BROKER_LOG"
  format_storage

  local jvm_opts
  # shellcheck disable=SC2206
  jvm_opts=($HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
            -Djava.awt.headless=true "-Dlog4j2.configurationFile=$LOG4J_CONF"
            "-Dkafka.logs.dir=$RUN_DIR" ${KAFKA_JVM_OPTS:-})
  log "starting broker on 127.0.0.1:$PORT (run dir $RUN_DIR)"
  # Own session (setsid): a Ctrl-C in the caller's terminal doesn't kill it; `stop` does.
  if command -v setsid >/dev/null; then
    setsid "$JAVA" "${jvm_opts[@]}" -cp "$LIB_DIR/*" kafka.Kafka "$PROPS" \
      </dev/null >>"$BROKER_LOG" 2>&1 &
  else
    nohup "$JAVA" "${jvm_opts[@]}" -cp "$LIB_DIR/*" kafka.Kafka "$PROPS" \
      </dev/null >>"$BROKER_LOG" 2>&1 &
  fi
  pid=$!
  echo "$pid" >"$PID_FILE"

  local rc=0
  probe "127.0.0.1:$PORT" "$START_TIMEOUT" "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    if [ "$rc" -eq 2 ]; then
      rm -f "$PID_FILE"
      fail_with_log "broker process exited during startup (see broker.log)"
    fi
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      sleep 2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    fail_with_log "broker did not serve metadata on 127.0.0.1:$PORT within ${START_TIMEOUT}s"
  fi
  log "broker up (pid $pid)"
  echo "127.0.0.1:$PORT"
}

do_stop() {
  local pid i
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    log "not running ($RUN_DIR)"
    return 0
  fi
  log "stopping broker pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${STOP_TIMEOUT}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

do_status() {
  local pid
  if ! pid="$(broker_pid)"; then
    echo "stopped ($RUN_DIR)" >&2
    exit 3
  fi
  load_ports
  if probe "127.0.0.1:$PORT" 5 "$pid"; then
    echo "running pid=$pid run_dir=$RUN_DIR" >&2
    echo "127.0.0.1:$PORT"
  else
    echo "process $pid alive but not serving metadata on 127.0.0.1:$PORT" >&2
    exit 1
  fi
}

case "$CMD" in
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop; do_start ;;
  status) do_status ;;
esac
