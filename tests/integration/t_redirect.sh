# A job in a selected cgroup reaches its usual address through the agent,
# which knows who it is; everything else goes direct.
. tests/lib.sh

setup_echo
OTHER=$(free_port)
start_server 127.0.0.2 "$OTHER"
start_agent "$WORK/policy.json"

# Selected: through the agent, and getpeername() still names the target.
out=$(in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT") || fail "probe in cgroup failed"
note "$out"
pid=${out#pid=}; pid=${pid%% *}
case "$out" in *"peer=127.0.0.2:$SPORT "*) ;; *) fail "getpeername: $out" ;; esac
wait_for "$AGENT_LOG" "session_end.*SLUICE_PID=$pid " || fail "no session end logged"
line=$(grep "session_start" "$AGENT_LOG" | grep "SLUICE_PID=$pid ")
[ -n "$line" ] || fail "no session start for pid $pid"
for want in "SLUICE_CGROUP=/$TAG " "SLUICE_UID=0 " "SLUICE_USER=root " \
	"SLUICE_EXE=$(readlink -f "$TESTNET") " "SLUICE_IDENTITY=job " "SLUICE_TARGET=echo " \
	"SLUICE_DST=127.0.0.2:$SPORT " "SLUICE_RULE=0 "; do
	case "$line " in *"$want"*) ;; *) fail "session start lacks $want: $line" ;; esac
done
grep "session_end" "$AGENT_LOG" | grep "SLUICE_PID=$pid " | grep -q "SLUICE_BYTES_UP=13 .*SLUICE_BYTES_DOWN=13 " ||
	{ grep session_end "$AGENT_LOG" >&2; fail "session end lacks the byte counts"; }

# A cgroup made after the agent started, below the selected one.
mk_cgroup "/$TAG/late-child"
out=$(in_cgroup "/$TAG/late-child" "$TESTNET" probe 127.0.0.2 "$SPORT") || fail "probe in new child failed"
pid=${out#pid=}; pid=${pid%% *}
wait_for "$AGENT_LOG" "session_start.*SLUICE_CGROUP=/$TAG/late-child .*SLUICE_PID=$pid " ||
	fail "child cgroup not redirected: $out"

# Not selected: outside the cgroup, or a port that is no target.
before=$(count "$AGENT_LOG" session_start)
"$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "direct probe failed"
out=$(in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$OTHER") || fail "non-target probe failed"
case "$out" in *"peer=127.0.0.2:$OTHER "*) ;; *) fail "non-target: $out" ;; esac
# The agent logs every connection it accepts, refused or not.
sleep 0.2
grep -q "no origin\|session_refused" "$AGENT_LOG" && fail "agent saw unselected connections"
[ "$(count "$AGENT_LOG" session_start)" = "$before" ] || fail "agent saw unselected connections"

stop_agent
