#!/usr/bin/env bash
# A throwaway single-node OpenSearch 2.x server for tests and local development.
#
# The server is the "integ-test" distribution that OpenSearch publishes as a Maven artifact
# (org.opensearch.distribution.integ-test-zip:opensearch), fetched with the ordinary `mvn`
# client, so no download URL is needed. It contains the server core and the netty transport
# only: no plugins, no bundled JDK and no extra modules (no analysis-common, painless,
# reindex, ingest-common, ...), so it runs on the machine's Java 17 and never phones home.
#
# Usage:
#   eval "$(scripts/opensearch.sh start)"   # prints only: export DANDELION_TEST_OPENSEARCH_URL=...
#   scripts/opensearch.sh status            # exit 0 when running and answering
#   scripts/opensearch.sh stop              # idempotent
#   scripts/opensearch.sh run               # foreground, Ctrl-C to stop
#   scripts/opensearch.sh clean             # stop, then delete the runtime dir (data, logs)
#
# Environment (all optional):
#   OPENSEARCH_VERSION          default 2.19.3
#   OPENSEARCH_PORT             HTTP port, default 19200
#   OPENSEARCH_TRANSPORT_PORT   default 19300
#   OPENSEARCH_HOME_DIR         runtime dir (config copy, data, logs, pid), default
#                               <repo>/.dandelion/opensearch (as root: /var/tmp/..., see below)
#   DANDELION_CACHE_DIR         cache root, default ~/.cache/dandelion (distribution under opensearch/)
#   OPENSEARCH_JAVA_HOME        JDK to run with, default: the `java` on PATH
#   OPENSEARCH_JAVA_OPTS        default "-Xms512m -Xmx512m"
#   OPENSEARCH_START_TIMEOUT    seconds to wait for a yellow cluster, default 120
#
# Running as root: OpenSearch refuses to run as root, so the server runs as `nobody` through
# setpriv, and everything it touches must be reachable by `nobody`:
#   * the runtime dir is chown'ed to nobody on every start (it is ours alone);
#   * the distribution is only read (config/ is copied into the runtime dir and
#     OPENSEARCH_PATH_CONF points there; the relative log/heap-dump paths of jvm.options are
#     rewritten to the runtime dir), so the cache only needs to be readable by nobody. root's
#     $HOME is usually mode 0700, and we prefer not to loosen it: when `nobody` cannot reach
#     the cache dir, the distribution goes to <repo>/.dandelion/cache instead (the download
#     itself stays cached in ~/.m2, so this costs one local copy and unzip, a few seconds).
#   * as root, the runtime dir is /var/tmp/dandelion-opensearch-<hash of the repo path>
#     (the same path for start and stop, whatever happens to permissions in between).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${OPENSEARCH_VERSION:-2.19.3}"
PORT="${OPENSEARCH_PORT:-19200}"
TPORT="${OPENSEARCH_TRANSPORT_PORT:-19300}"
START_TIMEOUT="${OPENSEARCH_START_TIMEOUT:-120}"
STOP_TIMEOUT=30
CLUSTER_NAME="dandelion-test"
RUN_USER="nobody"

log() { printf 'opensearch.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [[ "$(id -u)" == 0 ]]; }

# Runs a command as the unprivileged user when we are root, directly otherwise.
as_server_user() {
  if is_root; then
    setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups -- "$@"
  else
    "$@"
  fi
}

# True when `nobody` can traverse to $1 (or, when it does not exist yet, to its nearest
# existing ancestor; whatever we create below it gets mode 755 from us).
nobody_can_reach() {
  local path="$1"
  while [[ ! -e "$path" ]]; do path="$(dirname "$path")"; done
  as_server_user test -x "$path" 2>/dev/null
}

resolve_dirs() {
  if is_root; then
    command -v setpriv >/dev/null || die "running as root needs setpriv (util-linux)"
    RUN_GROUP="$(id -gn "$RUN_USER")"
  fi
  local cache_root="${DANDELION_CACHE_DIR:-${HOME}/.cache/dandelion}"
  RUN_DIR="${OPENSEARCH_HOME_DIR:-$REPO_DIR/.dandelion/opensearch}"
  if is_root && ! nobody_can_reach "$cache_root"; then
    cache_root="$REPO_DIR/.dandelion/cache"
    if ! nobody_can_reach "$cache_root"; then
      cache_root="/var/tmp/dandelion-cache"
    fi
  fi
  if is_root && [[ -z "${OPENSEARCH_HOME_DIR:-}" ]]; then
    # As root the runtime dir never depends on permissions (which other tools may change
    # between `start` and `stop`): it is always this path, keyed by the checkout.
    RUN_DIR="/var/tmp/dandelion-opensearch-$(printf '%s' "$REPO_DIR" | sha1sum | cut -c1-12)"
  elif is_root && ! nobody_can_reach "$RUN_DIR"; then
    die "OPENSEARCH_HOME_DIR=$RUN_DIR is not reachable by user $RUN_USER"
  fi
  CACHE_DIR="$cache_root/opensearch"
  DIST_DIR="$CACHE_DIR/opensearch-$VERSION"
  CONF_DIR="$RUN_DIR/config"
  DATA_DIR="$RUN_DIR/data"
  LOGS_DIR="$RUN_DIR/logs"
  TMP_DIR="$RUN_DIR/tmp"
  PID_FILE="$RUN_DIR/opensearch.pid"
  PORT_FILE="$RUN_DIR/http.port"
  CONSOLE_LOG="$LOGS_DIR/console.log"
}

# --- distribution -------------------------------------------------------------------------

fetch_distribution() {
  [[ -x "$DIST_DIR/bin/opensearch" ]] && return 0
  command -v mvn >/dev/null || die "maven (mvn) is needed to fetch OpenSearch; apt-get install maven"
  mkdir -p "$CACHE_DIR"
  local zip="$CACHE_DIR/opensearch-$VERSION.zip"
  if [[ ! -s "$zip" ]]; then
    log "fetching OpenSearch $VERSION (integ-test distribution) with maven..."
    local out
    if ! out="$(mvn -q -B dependency:copy \
      "-Dartifact=org.opensearch.distribution.integ-test-zip:opensearch:${VERSION}:zip" \
      "-DoutputDirectory=$CACHE_DIR" 2>&1)"; then
      printf '%s\n' "$out" >&2
      die "maven could not fetch org.opensearch.distribution.integ-test-zip:opensearch:$VERSION"
    fi
  fi
  [[ -s "$zip" ]] || die "maven finished but $zip is missing"
  log "unpacking $zip..."
  local tmp
  tmp="$(mktemp -d "$CACHE_DIR/.unpack.XXXXXX")"
  if command -v unzip >/dev/null; then
    unzip -q "$zip" -d "$tmp"
  else
    python3 -m zipfile -e "$zip" "$tmp"
    chmod +x "$tmp/opensearch-$VERSION"/bin/*  # python's zipfile drops the exec bits
  fi
  [[ -x "$tmp/opensearch-$VERSION/bin/opensearch" ]] || die "unexpected layout in $zip"
  chmod -R a+rX "$tmp"  # readable by the server user whatever our umask
  rm -rf "$DIST_DIR"
  mv "$tmp/opensearch-$VERSION" "$DIST_DIR"
  rm -rf "$tmp" "$zip"  # the artifact stays in maven's local repository anyway
}

# --- java ---------------------------------------------------------------------------------

java_major() {
  "$1" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9.]*\).*/\1/p' | sed 's/^1\.//; s/\..*//'
}

# OpenSearch 2.x runs on Java 11 to 23 (24 dropped the security manager it relies on).
java_ok() {
  local major
  major="$(java_major "$1/bin/java")"
  [[ -n "$major" ]] && ((major >= 11 && major <= 23))
}

resolve_java() {
  if [[ -n "${OPENSEARCH_JAVA_HOME:-}" ]]; then
    java_ok "$OPENSEARCH_JAVA_HOME" || die "OPENSEARCH_JAVA_HOME=$OPENSEARCH_JAVA_HOME is not Java 11-23"
    return 0
  fi
  local candidates=() jdk
  if command -v java >/dev/null; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for jdk in /usr/lib/jvm/*-21-* /usr/lib/jvm/*-17-* /usr/lib/jvm/*; do
    [[ -x "$jdk/bin/java" ]] && candidates+=("$jdk")
  done
  for jdk in "${candidates[@]}"; do
    if java_ok "$jdk"; then
      export OPENSEARCH_JAVA_HOME="$jdk"
      return 0
    fi
  done
  die "no Java 11-23 found (java on PATH or /usr/lib/jvm); set OPENSEARCH_JAVA_HOME"
}

# --- runtime dir and command line ---------------------------------------------------------

prepare_runtime_dir() {
  mkdir -p "$CONF_DIR" "$DATA_DIR" "$LOGS_DIR" "$TMP_DIR"
  # A fresh copy of the distribution's config on every start (keeps a keystore, if any).
  cp -R "$DIST_DIR/config/." "$CONF_DIR/"
  # bin/opensearch runs from the distribution dir: make jvm.options' relative paths
  # (gc log, error file, heap dumps) point into the runtime dir instead.
  sed -i -e "s|logs/|$LOGS_DIR/|g" -e "s|HeapDumpPath=data|HeapDumpPath=$DATA_DIR|" \
    "$CONF_DIR/jvm.options"
  if is_root; then
    chown -R "$RUN_USER:$RUN_GROUP" "$RUN_DIR"
  fi
}

server_env() {
  export OPENSEARCH_PATH_CONF="$CONF_DIR"
  export OPENSEARCH_TMPDIR="$TMP_DIR"
  export OPENSEARCH_JAVA_OPTS="${OPENSEARCH_JAVA_OPTS:--Xms512m -Xmx512m}"
  unset JAVA_TOOL_OPTIONS JAVA_OPTS OPENSEARCH_HOME
}

# -q: log to the files only once started. Single-node discovery keeps the production
# bootstrap checks as warnings (vm.max_map_count, file descriptors, ...); mmap is off anyway,
# so the low default vm.max_map_count of containers does not matter. The disk threshold is
# off so that a nearly full disk does not turn indices read-only in the middle of a test run.
server_args() {
  SERVER_ARGS=(
    -q
    -Ecluster.name="$CLUSTER_NAME"
    -Enode.name="$CLUSTER_NAME-node"
    -Ediscovery.type=single-node
    -Enetwork.host=127.0.0.1
    -Ehttp.port="$PORT"
    -Etransport.port="$TPORT"
    -Epath.data="$DATA_DIR"
    -Epath.logs="$LOGS_DIR"
    -Ebootstrap.memory_lock=false
    -Enode.store.allow_mmap=false
    -Ecluster.routing.allocation.disk.threshold_enabled=false
    -Eaction.destructive_requires_name=false
  )
}

# --- process state ------------------------------------------------------------------------

# Prints the pid of our running server, if any (the pid file names a live OpenSearch JVM).
running_pid() {
  [[ -s "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'org.opensearch.bootstrap.OpenSearch' \
    || return 1
  echo "$pid"
}

recorded_port() {
  if [[ -s "$PORT_FILE" ]]; then cat "$PORT_FILE"; else echo "$PORT"; fi
}

healthy() {
  curl -fsS -o /dev/null --max-time 5 \
    "http://127.0.0.1:$1/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null
}

port_in_use() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

describe_port_owner() {
  if command -v ss >/dev/null; then
    ss -ltnp "sport = :$1" 2>/dev/null | tail -n +2 >&2 || true
  fi
}

show_logs() {
  local f
  for f in "$CONSOLE_LOG" "$LOGS_DIR/$CLUSTER_NAME.log"; do
    if [[ -s "$f" ]]; then
      log "--- last lines of $f ---"
      tail -n 40 "$f" >&2
    fi
  done
}

print_export() {
  echo "export DANDELION_TEST_OPENSEARCH_URL=http://127.0.0.1:$1"
}

# --- subcommands --------------------------------------------------------------------------

lock_runtime_dir() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock -w 300 9 || die "another opensearch.sh holds $RUN_DIR/.lock"
}

wait_healthy() {
  local pid="$1" started="$SECONDS"
  while ((SECONDS - started < START_TIMEOUT)); do
    if healthy "$PORT"; then
      log "OpenSearch $VERSION is up on port $PORT (pid $pid, $((SECONDS - started))s)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      show_logs
      rm -f "$PID_FILE"
      die "OpenSearch exited during startup (logs in $LOGS_DIR)"
    fi
    sleep 1
  done
  show_logs
  die "OpenSearch did not become healthy within ${START_TIMEOUT}s (pid $pid still running; \
'scripts/opensearch.sh stop' to kill it)"
}

check_ports_free() {
  local p
  for p in "$PORT" "$TPORT"; do
    if port_in_use "$p"; then
      describe_port_owner "$p"
      die "port $p on 127.0.0.1 is already in use by another process (not this script's \
OpenSearch, runtime dir $RUN_DIR); stop it or choose OPENSEARCH_PORT / OPENSEARCH_TRANSPORT_PORT"
    fi
  done
}

cmd_start() {
  lock_runtime_dir
  local pid port
  if pid="$(running_pid)"; then
    port="$(recorded_port)"
    [[ "$port" == "$PORT" ]] || log "warning: already running on port $port (not $PORT)"
    PORT="$port"
    wait_healthy "$pid"
    print_export "$port"
    return 0
  fi
  rm -f "$PID_FILE"
  check_ports_free
  fetch_distribution
  resolve_java
  prepare_runtime_dir
  server_env
  server_args
  log "starting OpenSearch $VERSION on 127.0.0.1:$PORT (java: $OPENSEARCH_JAVA_HOME, dir: $RUN_DIR)"
  # nohup, setpriv and bin/opensearch all exec, so $! ends up being the JVM's pid. Our stdout
  # must not leak into the server (callers read it through a pipe), nor the lock's fd 9.
  # The subshell leaves the caller's cwd (maybe unreadable by the server user) and execs too.
  local launcher=()
  if is_root; then
    launcher=(setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups --)
  fi
  (cd / && exec nohup "${launcher[@]}" "$DIST_DIR/bin/opensearch" "${SERVER_ARGS[@]}") \
    </dev/null >>"$CONSOLE_LOG" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$PORT" >"$PORT_FILE"
  wait_healthy "$pid"
  print_export "$PORT"
}

cmd_stop() {
  lock_runtime_dir
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping OpenSearch (pid $pid)..."
  kill -TERM "$pid" 2>/dev/null || true
  local started="$SECONDS"
  while kill -0 "$pid" 2>/dev/null && ((SECONDS - started < STOP_TIMEOUT)); do
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid port
  if pid="$(running_pid)"; then
    port="$(recorded_port)"
    if healthy "$port"; then
      echo "running: pid $pid, http://127.0.0.1:$port"
      return 0
    fi
    echo "starting or unhealthy: pid $pid, http://127.0.0.1:$port"
    return 1
  fi
  echo "not running"
  return 1
}

cmd_run() {
  local pid
  if pid="$(running_pid)"; then
    die "already running in the background (pid $pid); 'scripts/opensearch.sh stop' first"
  fi
  check_ports_free
  fetch_distribution
  resolve_java
  prepare_runtime_dir
  server_env
  server_args
  log "running OpenSearch $VERSION on http://127.0.0.1:$PORT in the foreground (Ctrl-C stops)"
  # Without -q, so that the log shows on the console.
  cd /
  if is_root; then
    exec setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups -- \
      "$DIST_DIR/bin/opensearch" "${SERVER_ARGS[@]:1}"
  fi
  exec "$DIST_DIR/bin/opensearch" "${SERVER_ARGS[@]:1}"
}

cmd_clean() {
  cmd_stop
  log "removing $RUN_DIR"
  rm -rf "$RUN_DIR"
}

main() {
  resolve_dirs
  case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    run) cmd_run ;;
    clean) cmd_clean ;;
    *)
      echo "usage: $0 {start|stop|status|run|clean}" >&2
      exit 2
      ;;
  esac
}

main "$@"
