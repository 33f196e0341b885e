# IPv6 targets, and dual-stack sockets reaching an IPv4 target v4-mapped.
. tests/lib.sh

SPORT=$(free_port)
SPORT4=$(free_port)
LPORT=$(free_port)
start_server ::1 "$SPORT"
start_server 127.0.0.2 "$SPORT4"
mk_cgroup "/$TAG"
write_policy "$WORK/policy.json" "$LPORT" "v6 [::1]:$SPORT" "v4 127.0.0.2:$SPORT4"
start_agent "$WORK/policy.json"

out=$(in_cgroup "/$TAG" "$TESTNET" probe ::1 "$SPORT") || fail "IPv6 probe failed"
note "$out"
case "$out" in *"peer=::1:$SPORT "*) ;; *) fail "getpeername6: $out" ;; esac
pid=${out#pid=}; pid=${pid%% *}
wait_for "$AGENT_LOG" "session_start.*SLUICE_TARGET=v6 .*SLUICE_DST=\[::1\]:$SPORT .*SLUICE_PID=$pid " ||
	fail "no IPv6 session logged"

out=$(in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT4" --family 6) || fail "v4-mapped probe failed"
note "$out"
case "$out" in *"peer=::ffff:127.0.0.2:$SPORT4 "*) ;; *) fail "getpeername6 v4-mapped: $out" ;; esac
pid=${out#pid=}; pid=${pid%% *}
wait_for "$AGENT_LOG" "session_start.*SLUICE_TARGET=v4 .*SLUICE_DST=127.0.0.2:$SPORT4 .*SLUICE_PID=$pid " ||
	fail "no v4-mapped session logged"

stop_agent
