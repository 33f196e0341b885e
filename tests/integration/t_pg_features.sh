# Protocol features through the agent, from the job cgroup: cancel (psql on
# SIGINT; the job's key is the agent's, not the server's; made-up keys do
# nothing), LISTEN/NOTIFY, a large NOTICE, COPY FROM STDIN and TO STDOUT.
. tests/lib.sh

setup_pg
APP_PW=$(cat "$WORK/app.pw")
PY=$(command -v python3) || fail "python3 not found"

direct_psql() {
	PGPASSWORD="$APP_PW" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" -U app -d orders "$@"
}

# Wait until the server runs QUERY (exactly) in some session.
wait_running() { # QUERY [SECONDS]
	n=$(( ${2:-10} * 20 ))
	while [ "$n" -gt 0 ]; do
		c=$(pg_super -At -c "select count(*) from pg_stat_activity where query = '$1' and state = 'active'")
		[ "$c" -ge 1 ] 2>/dev/null && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# Wait for a background pid to end, at most SECONDS; 1 if still running.
wait_gone() { # PID SECONDS
	n=$(( $2 * 20 ))
	while kill -0 "$1" 2>/dev/null; do
		[ "$n" -gt 0 ] || return 1
		sleep 0.05
		n=$((n - 1))
	done
	return 0
}

# A raw protocol client: the agent asks the job for no password, so a few
# lines of Python speak the protocol and see the BackendKeyData it gets.
cat >"$WORK/pgraw.py" <<'PY'
import socket, struct, sys, time

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def out(*a):
    print(*a, flush=True)

def conn():
    return socket.create_connection((host, port), timeout=40)

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += c
    return b

def msg(s):
    h = recv_exact(s, 5)
    return h[0:1], recv_exact(s, struct.unpack("!I", h[1:])[0] - 4)

def fields(b):
    return {f[0:1].decode(): f[1:].decode() for f in b.split(b"\0") if f}

def startup(s):
    p = b"user\0whoever\0database\0orders\0\0"
    s.sendall(struct.pack("!II", 8 + len(p), 196608) + p)
    key = None
    while True:
        t, b = msg(s)
        if t == b"E":
            raise SystemExit("startup error: %r" % fields(b))
        if t == b"K":
            key = struct.unpack("!II", b)
        if t == b"Z":
            return key

def query(s, q):
    q = q.encode() + b"\0"
    s.sendall(b"Q" + struct.pack("!I", 4 + len(q)) + q)

def results(s):
    rows, err = [], None
    while True:
        t, b = msg(s)
        if t == b"D":
            n, = struct.unpack("!H", b[:2])
            row, i = [], 2
            for _ in range(n):
                l, = struct.unpack("!i", b[i:i + 4])
                i += 4
                row.append(None if l < 0 else b[i:i + l].decode())
                i += max(l, 0)
            rows.append(row)
        elif t == b"E":
            err = fields(b)
        elif t == b"Z":
            return rows, err

def cancel(pid, secret):
    c = conn()
    c.sendall(struct.pack("!IIII", 16, 80877102, pid & 0xffffffff, secret & 0xffffffff))
    c.settimeout(5)
    try:
        data = c.recv(100)
    except ConnectionResetError:
        data = b"(reset)"
    c.close()
    return data

s = conn()
pid, secret = startup(s)
if mode == "cancel":
    query(s, "select pg_backend_pid()")
    rows, err = results(s)
    backend = int(rows[0][0])
    out("key", pid, secret, "backend", backend)
    # Made-up keys while a query runs: none may touch it.
    query(s, "select pg_sleep(2), 'survived'")
    time.sleep(0.5)
    start = time.time()
    for p, k in ((pid, secret ^ 1), (pid ^ 1, secret), (backend, secret), (backend, 0), (0, 0)):
        out("bogus reply", len(cancel(p, k)))
    rows, err = results(s)
    out("bogus result", rows[0][1] if rows else "-", err["C"] if err else "-")
    # The key the job was given cancels its own query.
    query(s, "select pg_sleep(30)")
    time.sleep(0.5)
    start = time.time()
    out("real reply", len(cancel(pid, secret)))
    rows, err = results(s)
    out("real result", err["C"] if err else "-", "%.1f" % (time.time() - start))
    query(s, "select 'alive'")
    rows, err = results(s)
    out("after", rows[0][0] if rows else err)
elif mode == "listen":
    query(s, "listen ch2")
    results(s)
    out("listening")
    # Idle: the notification must arrive without the client asking.
    s.settimeout(10)
    t, b = msg(s)
    if t == b"A":
        chan, payload = b[4:].split(b"\0")[:2]
        out("notification", chan.decode(), payload.decode())
    else:
        out("unexpected", t)
s.sendall(b"X\0\0\0\4")
PY

# ------------------------------------------------------------------- cancel
# psql on SIGINT sends a CancelRequest with the key it got, on a new
# connection that the agent receives too.
sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG_ROOT/$TAG" \
	env PGPASSWORD=not-the-password PGCONNECT_TIMEOUT=10 \
	psql -X -q -h 127.0.0.2 -p "$PGPORT" -U whoever -d orders -c "select pg_sleep(30)" \
	>"$WORK/cancel.out" 2>&1 &
PSQL=$!
PIDS="$PSQL $PIDS"
wait_running "select pg_sleep(30)" || fail "the job's pg_sleep(30) never ran: $(cat "$WORK/cancel.out")"
sleep 1
kill -INT "$PSQL"
wait_gone "$PSQL" 5 || fail "psql still running 5 s after SIGINT: the cancel did not work"
rc=0
wait "$PSQL" || rc=$?
grep -q "canceling statement due to user request" "$WORK/cancel.out" ||
	fail "psql did not report a canceled statement (status $rc): $(cat "$WORK/cancel.out")"
[ "$rc" -ne 0 ] || fail "psql exited 0 after its statement was canceled"
sid=$(grep -m1 "start SLUICE_EVENT=session_start .* SLUICE_PID=$PSQL " "$AGENT_LOG" |
	sed 's/.*SLUICE_SESSION=\([0-9a-f]*\).*/\1/')
[ -n "$sid" ] || fail "no session of psql (pid $PSQL) in the agent's log"
grep -q "cancel request for session $sid forwarded" "$AGENT_LOG" ||
	fail "no log of a cancel request forwarded to session $sid"

# The job's key is the agent's own, and works; made-up ones do nothing and
# the agent answers them with nothing but a close.
in_cgroup "/$TAG" "$PY" "$WORK/pgraw.py" 127.0.0.2 "$PGPORT" cancel >"$WORK/raw.out" 2>&1 ||
	fail "raw cancel client failed: $(cat "$WORK/raw.out")"
set -- $(grep '^key ' "$WORK/raw.out")
[ "$#" -eq 5 ] || fail "no key in: $(cat "$WORK/raw.out")"
[ "$2" != "$5" ] || fail "the job got the server's own backend pid $5 as its key"
grep -v '^bogus reply 0$' "$WORK/raw.out" | grep -q '^bogus reply' &&
	fail "the agent answered a made-up cancel key: $(grep '^bogus reply' "$WORK/raw.out" | tr '\n' ' ')"
[ "$(grep -c '^bogus reply 0$' "$WORK/raw.out")" -eq 5 ] || fail "made-up cancels: $(cat "$WORK/raw.out")"
grep -q '^bogus result survived -$' "$WORK/raw.out" ||
	fail "a made-up cancel key disturbed the query: $(grep '^bogus result' "$WORK/raw.out")"
[ "$(count "$AGENT_LOG" "cancel request with an unknown key, ignored")" -ge 5 ] ||
	fail "made-up cancel keys were not logged as unknown"
grep -q '^real result 57014 [0-4]\.' "$WORK/raw.out" ||
	fail "the job's own key did not cancel its query at once: $(grep '^real' "$WORK/raw.out" | tr '\n' ' ')"
grep -q '^after alive$' "$WORK/raw.out" || fail "session unusable after a cancel: $(cat "$WORK/raw.out")"

# ------------------------------------------------------------ LISTEN/NOTIFY
# psql prints notifications after each command: one session listens and
# sleeps, another (through the agent) and a direct one notify.
job_psql -c "listen ch" -c "select pg_sleep(5)" >"$WORK/listen.out" 2>&1 &
LISTENER=$!
PIDS="$LISTENER $PIDS"
wait_running "select pg_sleep(5)" || fail "the listener never got to its sleep: $(cat "$WORK/listen.out")"
job_psql -c "notify ch, 'payload-$$ through the agent'" || fail "notify through the agent failed"
direct_psql -c "select pg_notify('ch', 'payload-$$ direct ' || repeat('x', 7000))" >/dev/null ||
	fail "direct notify failed"
wait_gone "$LISTENER" 10 || fail "listener still running"
wait "$LISTENER" || fail "listening psql failed: $(cat "$WORK/listen.out")"
grep -q "^Asynchronous notification \"ch\" with payload \"payload-$$ through the agent\" received" "$WORK/listen.out" ||
	fail "notification from a job session not received: $(cat "$WORK/listen.out")"
grep -q "^Asynchronous notification \"ch\" with payload \"payload-$$ direct x\{7000\}\" received" "$WORK/listen.out" ||
	fail "7 kB notification from a direct session not received: $(cut -c1-200 "$WORK/listen.out")"

# An idle session gets its notification at once, without asking.
in_cgroup "/$TAG" "$PY" "$WORK/pgraw.py" 127.0.0.2 "$PGPORT" listen >"$WORK/idle.out" 2>&1 &
RAW=$!
PIDS="$RAW $PIDS"
wait_for "$WORK/idle.out" '^listening$' 10 || fail "raw listener did not start: $(cat "$WORK/idle.out")"
job_psql -c "notify ch2, 'idle-$$'" || fail "notify ch2 failed"
wait_for "$WORK/idle.out" "^notification ch2 idle-$$\$" 5 ||
	fail "an idle listener did not get its notification: $(cat "$WORK/idle.out")"
wait "$RAW" || fail "raw listener failed: $(cat "$WORK/idle.out")"

# ------------------------------------------------------------------- NOTICE
# A notice larger than the agent's 64 KiB buffer, in the middle of a result.
job_psql -At -c "select 'before'; do \$\$ begin raise notice 'notice-%', repeat('n', 100000); end \$\$; select 'after'" \
	>"$WORK/notice.out" 2>"$WORK/notice.err" || fail "notice through the agent failed: $(cut -c1-200 "$WORK/notice.err")"
{ printf 'NOTICE:  notice-'; head -c 100000 /dev/zero | tr '\0' n; echo; } >"$WORK/notice.want"
cmp -s "$WORK/notice.err" "$WORK/notice.want" ||
	fail "100 kB notice not received whole: $(wc -c <"$WORK/notice.err") bytes: $(cut -c1-100 "$WORK/notice.err")"
[ "$(cat "$WORK/notice.out")" = "$(printf 'before\nafter')" ] || fail "results around the notice: $(cat "$WORK/notice.out")"

# --------------------------------------------------------------------- COPY
# 100,000 rows in, the same bytes out, through the agent both ways.
awk 'BEGIN {
	for (i = 1; i <= 100000; i++)
		printf "%d\trow %d tab\\there newline\\nthere back\\\\slash \303\274\t%s\t{%d,%d}\n",
			i, i, (i % 10 == 0) ? "\\N" : sprintf("%d.%02d", i, i % 100), i, -i
}' >"$WORK/copy.in"
[ "$(wc -l <"$WORK/copy.in")" -eq 100000 ] || fail "test data not made"
job_psql -c "create table copied (id int primary key, t text, n numeric, a int[])" || fail "create table copied"
job_psql -c "copy copied from stdin" <"$WORK/copy.in" >"$WORK/copy.err" 2>&1 ||
	fail "copy from stdin through the agent failed: $(cat "$WORK/copy.err")"
n=$(direct_psql -At -c "select count(*) from copied") || fail "count of copied failed"
[ "$n" = 100000 ] || fail "copy from stdin stored $n rows, want 100000"
job_psql -c "copy (select * from copied order by id) to stdout" >"$WORK/copy.out" 2>"$WORK/copy.err" ||
	fail "copy to stdout through the agent failed: $(cat "$WORK/copy.err")"
want=$(md5sum <"$WORK/copy.in" | cut -d' ' -f1)
got=$(md5sum <"$WORK/copy.out" | cut -d' ' -f1)
[ "$got" = "$want" ] ||
	fail "copy out md5 $got ($(wc -c <"$WORK/copy.out") bytes) differs from copy in $want ($(wc -c <"$WORK/copy.in") bytes)"
# Binary format: equal to the same copy made directly.
job_psql -c "copy (select * from copied order by id) to stdout (format binary)" >"$WORK/bin.agent" ||
	fail "binary copy through the agent failed"
direct_psql -c "copy (select * from copied order by id) to stdout (format binary)" >"$WORK/bin.direct" ||
	fail "direct binary copy failed"
cmp "$WORK/bin.agent" "$WORK/bin.direct" >/dev/null ||
	fail "binary copy through the agent differs from the direct one ($(wc -c <"$WORK/bin.agent") vs $(wc -c <"$WORK/bin.direct") bytes)"
# A bad row midway: the server's error reaches the job, nothing is stored,
# and the agent carries on.
{ head -n 50000 "$WORK/copy.in" | awk -F'\t' -v OFS='\t' '{ $1 += 200000; print }'; echo "oops	x	1	{}"; } >"$WORK/copy.bad"
out=$(job_psql -c "copy copied from stdin" <"$WORK/copy.bad" 2>&1) && fail "a bad copy was accepted"
case "$out" in *'invalid input syntax for type integer: "oops"'*) ;;
	*) fail "bad copy: want the server's error, got: $out" ;; esac
n=$(job_psql -At -c "select count(*) from copied") || fail "session after a failed copy"
[ "$n" = 100000 ] || fail "after a failed copy the table has $n rows, want 100000"

grep -q "protocol violation" "$AGENT_LOG" && fail "the agent reported a protocol violation"
stop_agent
