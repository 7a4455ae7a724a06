#!/usr/bin/env bash
# loopd-echo.sh: loopd as an echo server, for bench/run-echo.sh.
#
# usage: PORT=N loopd-echo.sh [PORT]
#
# Starts loopd in the foreground with one loop (backend epoll) that runs one
# echo task on 127.0.0.1:PORT, logging only warnings and errors.
# bench/run-echo.sh runs it through `bash -c "exec ... PORT"` and stops it
# with SIGTERM; loopd then cancels the task and takes its worker with it.
#
# Environment:
#   PORT              the port to listen on (or give it as the argument)
#   LOOPD_BIN         the loopd binary (default: build/loopd in the repository)
#   LOOPD_PLUGIN_DIR  where echo.so is (default: build/plugins)
#   LOOPD_ECHO_HANG_TIMEOUT  the loop's hang_timeout (default: loopd's, 5s,
#                     a heartbeat every second; 100ms beats every 20 ms)

set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
port=${1:-${PORT:-}}
bin=${LOOPD_BIN:-$root/build/loopd}
plugins=${LOOPD_PLUGIN_DIR:-$root/build/plugins}

die() { echo "loopd-echo: $*" >&2; exit 1; }
[[ $port =~ ^[0-9]+$ ]] || die "no port: set PORT or pass it as the argument"
[ -x "$bin" ] || die "$bin is not an executable (set LOOPD_BIN)"
[ -r "$plugins/echo.so" ] || die "$plugins/echo.so does not exist (set LOOPD_PLUGIN_DIR)"
case $plugins in /*) ;; *) plugins=$(cd "$plugins" && pwd) ;; esac
hang=${LOOPD_ECHO_HANG_TIMEOUT:+"    hang_timeout: $LOOPD_ECHO_HANG_TIMEOUT"}

# The configuration goes to a file that is deleted at once: loopd reads it
# through /dev/fd/3 at start-up, and nothing is left behind after exec.
conf=$(mktemp "${TMPDIR:-/tmp}/loopd-echo.XXXXXX")
cat >"$conf" <<YAML
log:
  level: warning
  format: json
  target: stderr
shutdown:
  grace: 2s
loops:
  - name: bench
    backend: epoll
$hang
    tasks:
      - name: echo
        plugin: echo
        config:
          address: 127.0.0.1
          port: $port
YAML
exec 3<"$conf"
rm -f "$conf"
exec "$bin" -c /dev/fd/3 -P "$plugins"
