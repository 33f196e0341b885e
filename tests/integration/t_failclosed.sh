# kill -9 of the agent: selected jobs are refused, others unaffected; a new
# agent adopts the pinned links; --detach removes them.
. tests/lib.sh

setup_echo

attached() { bpftool cgroup show "$CG_ROOT" 2>/dev/null | grep -c 'sluice_' ; }
base=$(attached)

start_agent "$WORK/policy.json"
in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "probe before kill"
pins=$(ls "$BPFFS" | wc -l)
[ "$pins" -eq 8 ] || fail "expected 8 pinned links in $BPFFS, found $pins: $(ls -la "$BPFFS" 2>&1)"
progs=$(attached)
[ "$progs" -eq $((base + 5)) ] || fail "expected 5 programs attached, found $((progs - base))"

kill9_agent
rc=0
in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "selected connect with the agent dead: status $rc, want 2 (ECONNREFUSED)"
"$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "unselected connect broke with the agent dead"

start_agent "$WORK/policy.json"
grep -q "swapped into pinned links" "$AGENT_LOG" || fail "restart did not adopt the pinned links"
in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "probe after restart"
[ "$(ls "$BPFFS" | wc -l)" -eq "$pins" ] || fail "pinned link count grew"
[ "$(attached)" -eq "$progs" ] || fail "attached program count grew: $(attached) vs $progs"
stop_agent

# Stopped normally: still fail closed until detached.
rc=0
in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "selected connect after stop: status $rc, want 2"
"$SLUICED" --config "$WORK/policy.json" --detach 2>>"$AGENT_LOG" || fail "--detach failed"
[ ! -e "$BPFFS" ] || fail "pins left after --detach: $(ls "$BPFFS")"
[ "$(attached)" -eq "$base" ] || fail "programs still attached after --detach"
# Nothing listens on the agent's port now: reaching the server means direct.
in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "still redirected after detach"
