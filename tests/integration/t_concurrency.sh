# 1,000 concurrent connections each move 1 MiB both ways, byte-exact.
. tests/lib.sh

setup_echo
start_agent "$WORK/policy.json"

out=$(in_cgroup "/$TAG" "$TESTNET" load 127.0.0.2 "$SPORT" --conns 1000 --bytes 1048576) ||
	fail "load through the agent: $out"
note "$out"
wait_for "$AGENT_LOG" "x" 1
n=0
while [ "$(count "$AGENT_LOG" 'session_end.*SLUICE_BYTES_UP=1048576 SLUICE_BYTES_DOWN=1048576 ')" -lt 1000 ] &&
	[ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
[ "$(count "$AGENT_LOG" 'session_end.*SLUICE_BYTES_UP=1048576 SLUICE_BYTES_DOWN=1048576 ')" -eq 1000 ] ||
	fail "expected 1000 complete sessions, log has $(count "$AGENT_LOG" session_end) ends"
[ "$(count "$AGENT_LOG" session_start)" -eq 1000 ] || fail "expected 1000 session starts"
# The hand-off map holds an origin only from a job's SYN to the agent's
# accept: after 1,000 connections it is empty again.
out=$(bpftool map dump name handoff 2>&1)
case "$out" in "[]"|*"Found 0 elements"*) ;; *) fail "handoff map not empty: $(echo "$out" | tail -n 3)" ;; esac
stop_agent
