# What a hostile job or local user might try against the data path.
. tests/lib.sh

setup_echo
# The identity only admits the executable /usr/bin/sleep.
sed -i "s|\"cgroup\": \"/$TAG\\*\"|\"cgroup\": \"/$TAG*\", \"exe\": \"/usr/bin/sleep\"|" "$WORK/policy.json"
grep -q '"exe": "/usr/bin/sleep"' "$WORK/policy.json" || fail "policy edit"
start_agent "$WORK/policy.json"

# 1. Connect as one program, hand the socket to a child and exec the
# admitted one: the agent sees either the connecting program or an exec
# after the connect, never a pass. Several rounds, as timing varies: when
# the agent refuses the connecting program before connect() has returned
# to it, the reset is the connect's own error.
for i in 1 2 3 4 5; do
	out=$(in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" --exec-after-connect /usr/bin/sleep 2>&1)
	case "$out" in
	*"probe-child: rc=0"*) fail "round $i: an exec after connect passed as /usr/bin/sleep: $out" ;;
	*"probe-child: rc="* | "connect: Connection reset by peer"*) ;;
	*) fail "round $i: no result from the probe: $out" ;;
	esac
done
[ "$(count "$AGENT_LOG" session_start)" -eq 0 ] || fail "a forged session was admitted"
[ "$(count "$AGENT_LOG" session_refused)" -eq 5 ] || fail "expected 5 refusals"

# 2. A selected cgroup removed and made again (systemd restarting a unit)
# gets a new id; it is selected the moment it exists.
rmdir "$CG_ROOT/$TAG" || fail "rmdir"
mkdir "$CG_ROOT/$TAG" || fail "mkdir"
before=$(count "$AGENT_LOG" session_refused)
expect_reset in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" ||
	fail "job in the re-made cgroup was not redirected: $(cat "$WORK/reset.err")"
[ "$(count "$AGENT_LOG" session_refused)" -gt "$before" ] || fail "re-made cgroup went around the agent"

# 3. With the agent dead, a local user takes its port: selected jobs must
# not reach the impostor.
kill9_agent
mkdir "$WORK/squat" && chown nobody "$WORK/squat" && chmod 0711 "$WORK"
runuser -u nobody -- "$TESTNET" serve 127.0.0.1 "$LPORT" --ready "$WORK/squat/ready" 2>"$WORK/squat.log" &
PIDS="$! $PIDS"
wait_for "$WORK/squat/ready" ready || fail "squatter did not start: $(cat "$WORK/squat.log")"
rc=0
in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" 2>"$WORK/err" || rc=$?
[ "$rc" -eq 3 ] && grep -q "Operation not permitted" "$WORK/err" ||
	fail "selected job vs a squatted listener: status $rc, $(cat "$WORK/err")"
"$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "unselected job broke"
pkill -TERM -f "serve 127.0.0.1 $LPORT " ; sleep 0.2
grep -q "accepted=0 " "$WORK/squat.log" || fail "the squatter got connections: $(cat "$WORK/squat.log")"
