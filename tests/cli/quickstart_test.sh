#!/usr/bin/env bash
# tools/quickstart end to end with the binaries of this build (--no-build: the
# test must not rebuild the tree ctest runs in): checks that it shows a real
# session, exits 0 and leaves no server behind.
#   quickstart_test.sh <tools/quickstart> <build dir>
set -uo pipefail
quickstart=$1
build_dir=$2

out=$(PHX_BUILD_DIR="$build_dir" timeout --signal=TERM 90 bash "$quickstart" --no-build 2>&1)
rc=$?
printf '%s\n' "$out"

fail() {
  echo "FAILED: $*"
  exit 1
}
expect() {
  grep -qE -- "$1" <<< "$out" || fail "no line matching: $1"
}

[ "$rc" -eq 0 ] || fail "tools/quickstart exited $rc"
expect '^ +ann -> \{"push":"echo"'
expect '^ +ann <- \{"type":"join","topic":"room:lobby","status":"ok","response":\{"joined":"room:lobby"\}\}$'
expect '^ +ann <- \{"type":"reply","id":1,"topic":"room:lobby","event":"echo","status":"ok","response":\{"body":"hello, Phoenix"\}\}$'
expect '^ +bob <- \{"type":"event","topic":"room:lobby","event":"shout","payload":\{"user":"ann","body":"hi bob"\}\}$'
expect '^ +carol <- \{"type":"presence","topic":"presence:lobby","list":\{"carol":.*"dave":'
expect '^ +dave <- \{"type":"presence","topic":"presence:lobby","list":\{"carol":.*"dave":'
expect '^ +carol <- \{"type":"close","code":1000'
expect 'phx-server stopped'

# The server it started is gone: its port accepts nothing.
port=$(sed -n 's|.*listening on ws://127\.0\.0\.1:\([0-9]*\)/socket.*|\1|p' <<< "$out" | head -n 1)
[ -n "$port" ] || fail "the server's URL was not shown"
if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
  fail "something still listens on port $port"
fi
echo "PASSED"
