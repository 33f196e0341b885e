# A selected connection that matches no identity, or no rule, is refused
# and logged; a connection straight to the listener (no origin) is refused.
. tests/lib.sh

setup_echo
DENIED=$(free_port)
start_server 127.0.0.2 "$DENIED"
mk_cgroup "/$TAG/other"
# Narrow the identity to one child cgroup; add a target no rule allows.
sed -i "s|\"cgroup\": \"/$TAG\\*\"|\"cgroup\": \"/$TAG/allowed*\"|; s|\"targets\": \\[|\"targets\": [ { \"name\": \"norule\", \"protocol\": \"tcp\", \"address\": \"127.0.0.2:$DENIED\" },|" "$WORK/policy.json"
mk_cgroup "/$TAG/allowed"
start_agent "$WORK/policy.json"

in_cgroup "/$TAG/allowed" "$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "allowed identity refused"

expect_reset in_cgroup "/$TAG/other" "$TESTNET" probe 127.0.0.2 "$SPORT" ||
	fail "unmatched caller was not reset: $(cat "$WORK/reset.err")"
wait_for "$AGENT_LOG" "session_refused.*SLUICE_CGROUP=/$TAG/other .*SLUICE_REASON=caller matches no identity" ||
	fail "refusal not logged"

expect_reset in_cgroup "/$TAG/allowed" "$TESTNET" probe 127.0.0.2 "$DENIED" ||
	fail "caller with no rule was not reset: $(cat "$WORK/reset.err")"
wait_for "$AGENT_LOG" "session_refused.*SLUICE_TARGET=norule .*SLUICE_REASON=no rule allows connect" ||
	fail "no-rule refusal not logged"

expect_reset "$TESTNET" probe 127.0.0.1 "$LPORT" ||
	fail "direct connection to the listener was not reset: $(cat "$WORK/reset.err")"
wait_for "$AGENT_LOG" "no origin" || fail "origin-less connection not logged"
stop_agent
