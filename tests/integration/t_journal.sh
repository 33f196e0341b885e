# Every session event reaches journald as one structured entry.
. tests/lib.sh

ensure_journald
setup_echo
start_agent "$WORK/policy.json"
out=$(in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT") || fail "probe failed"
pid=${out#pid=}; pid=${pid%% *}
wait_for "$AGENT_LOG" "session_end.*SLUICE_PID=$pid " || fail "no session end"
session=$(grep "session_end.*SLUICE_PID=$pid " "$AGENT_LOG" | sed 's/.*SLUICE_SESSION=\([0-9a-f]*\).*/\1/')
stop_agent

# journald may take a moment to write what it received.
n=40
while [ "$(journalctl --no-pager -q -o cat SLUICE_SESSION="$session" | wc -l)" -lt 2 ] && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
journalctl --no-pager -q -o export SLUICE_SESSION="$session" > "$WORK/journal"
for want in "SLUICE_EVENT=session_start" "SLUICE_EVENT=session_end" "SYSLOG_IDENTIFIER=sluiced" \
	"SLUICE_CGROUP=/$TAG" "SLUICE_PID=$pid" "SLUICE_IDENTITY=job" "SLUICE_TARGET=echo" \
	"SLUICE_BYTES_UP=13" "PRIORITY=6"; do
	grep -qx "$want" "$WORK/journal" || fail "journal lacks $want for session $session"
done

# Each event kind has its MESSAGE_ID, and each MESSAGE_ID the agent sends
# has its entry in the journald catalog the package installs.
grep -qx "MESSAGE_ID=70002e27de594bcebf8b8a51f4eb11e3" "$WORK/journal" || fail "no MESSAGE_ID on session_start"
grep -qx "MESSAGE_ID=95eb655ef1374581842429bcae909305" "$WORK/journal" || fail "no MESSAGE_ID on session_end"
for id in $(sed -n 's/.*"MESSAGE_ID=\([0-9a-f]\{32\}\)".*/\1/p' userspace/log.c | sort -u); do
	grep -qx -- "-- $id" packaging/sluice.catalog || fail "MESSAGE_ID $id has no catalog entry"
done
for id in $(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' packaging/sluice.catalog); do
	grep -q "MESSAGE_ID=$id" userspace/log.c || fail "catalog entry $id is not used"
done
