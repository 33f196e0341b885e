# The agent speaks sd_notify as a Type=notify service: READY=1 once the
# programs are attached and the listener is up, STATUS= with the live
# session count, WATCHDOG=1 every half period when WATCHDOG_USEC is set,
# STOPPING=1 on the way out. A datagram socket of the test's own stands in
# for systemd's.
. tests/lib.sh

setup_echo
python3 - "$WORK/notify.sock" "$WORK/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "w", buffering=1) as log:
    try:
        while True:
            data = s.recv(4096).decode()
            log.write(data.replace("\n", " ") + "\n")
            if "STOPPING=1" in data:
                break
    except socket.timeout:
        pass
PY
PIDS="$! $PIDS"
n=100
while [ ! -S "$WORK/notify.sock" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
start_agent "$WORK/policy.json" env NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=400000
wait_for "$WORK/notify.log" "READY=1" || fail "no READY=1"
# A session held open shows in STATUS=.
sleep 2 | in_cgroup "/$TAG" "$TESTNET" send 127.0.0.2 "$SPORT" >/dev/null 2>&1 &
hold=$!
sleep 1
wait_for "$WORK/notify.log" "STATUS=serving 1 session$" || fail "no STATUS with the session: $(cat "$WORK/notify.log")"
wait "$hold"
stop_agent
wait_for "$WORK/notify.log" "STOPPING=1" || fail "no STOPPING=1"
[ "$(grep -c 'WATCHDOG=1' "$WORK/notify.log")" -ge 4 ] ||
	fail "too few WATCHDOG=1 in about 2 s at a 0.4 s watchdog: $(cat "$WORK/notify.log")"
head -n 1 "$WORK/notify.log" | grep -q "^READY=1" || fail "READY=1 was not first"
