# Hostile bytes from a job get a protocol error and a clean close of that
# session only: truncated, oversized, unknown, out of order, random. A
# healthy session runs through all of it.
. tests/lib.sh

setup_pg

# The healthy session: several statements spread over the attacks.
job_psql -At -c "select pg_sleep(2)" -c "select 'still'" -c "select pg_sleep(2)" \
	-c "select 'healthy'" > "$WORK/healthy.out" 2>&1 &
HEALTHY=$!

# Raw bytes from inside the job's cgroup; the answer goes to $WORK/out.
hostile() { # NAME: stdin is the payload
	in_cgroup "/$TAG" "$TESTNET" send 127.0.0.2 "$PGPORT" > "$WORK/out.$1" 2>"$WORK/err.$1"
	rc=$?
	[ "$rc" -eq 0 ] || fail "$1: the agent did not close the session (status $rc): $(cat "$WORK/err.$1")"
}
be32() { printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"; }
startup() { # the job's StartupMessage for database orders
	body="user\000job\000database\000orders\000\000"
	be32 $((8 + 26)); be32 196608; printf "$body"
}
expect_error() { # NAME TEXT
	grep -aq "$2" "$WORK/out.$1" || fail "$1: no ErrorResponse with '$2' (got: $(tr -c '[:print:]' . < "$WORK/out.$1"))"
}

# A startup packet whose length lies (2 GiB).
{ be32 2147483647; be32 196608; printf 'user\000job\000'; } | hostile huge-startup
expect_error huge-startup "protocol violation from the client: malformed startup packet"

# A startup packet cut short, then the job goes away.
{ be32 64; be32 196608; printf 'user\000'; } | hostile truncated

# After a valid startup: a query whose length field claims 2 GiB.
{ startup; printf 'Q'; be32 2147483647; printf 'select 1'; } | hostile huge-query
expect_error huge-query "message too large"

# An unknown message type.
{ startup; printf '\001'; be32 4; } | hostile unknown-type
expect_error unknown-type "unknown message type"

# A length field below its own size.
{ startup; printf 'Q'; be32 2; } | hostile short-length
expect_error short-length "malformed length"

# Out of order: Execute of a portal never bound, then Sync. The server
# answers that itself, through the agent, and the session goes on.
{ startup; printf 'E'; be32 9; printf '\000'; be32 0; printf 'S'; be32 4; printf 'X'; be32 4; } | hostile out-of-order
expect_error out-of-order 'portal "" does not exist'

# Random bytes.
head -c 4096 /dev/urandom | hostile random

# A job may not open a replication session or set options through sluice.
out=$(in_cgroup "/$TAG" env PGPASSWORD=x psql -X "host=127.0.0.2 port=$PGPORT dbname=orders replication=database" \
	-c "IDENTIFY_SYSTEM" 2>&1) && fail "a replication session went through: $out"
case "$out" in *'startup parameter "replication" is not allowed'*) ;; *) fail "replication: $out" ;; esac

wait "$HEALTHY" || fail "the healthy session failed: $(cat "$WORK/healthy.out")"
[ "$(grep -c '^still$\|^healthy$' "$WORK/healthy.out")" -eq 2 ] || fail "healthy session output: $(cat "$WORK/healthy.out")"
out=$(job_psql -At -c "select 'after'") || fail "a new session after the attacks failed"
[ "$out" = after ] || fail "new session: $out"
stop_agent

# A server (or someone in its place) that says AuthenticationOk without the
# SCRAM proof gets no session.
FAKE=$(free_port)
PY=$(command -v python3) || fail "python3 not found"
"$PY" - "$FAKE" > "$WORK/fake.log" 2>&1 <<'PYEOF' &
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.2", int(sys.argv[1]))); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
n = struct.unpack("!I", c.recv(4))[0]; c.recv(n - 4)            # StartupMessage
mech = b"SCRAM-SHA-256\0\0"
c.sendall(b"R" + struct.pack("!II", 8 + len(mech), 10) + mech)  # AuthenticationSASL
c.recv(65536)                                                    # SASLInitialResponse
c.sendall(b"R" + struct.pack("!II", 8, 0))                       # AuthenticationOk, no proof
c.sendall(b"Z" + struct.pack("!I", 5) + b"I")
print("sent ok", flush=True)
c.recv(65536)
PYEOF
PIDS="$! $PIDS"
wait_for "$WORK/fake.log" ready || fail "fake server did not start"
stop_agent
sed -i "s|\"agent\": {|\"agent\": { \"setup_timeout_s\": 1,|; s|\"targets\": \[|\"targets\": [ { \"name\": \"fake-db\", \"protocol\": \"postgres\", \"address\": \"127.0.0.2:$FAKE\", \"credentials\": { \"user\": \"app\", \"password_file\": \"$WORK/app.pw\" } },|; s|\"rules\": \[|\"rules\": [ { \"target\": \"fake-db\", \"roles\": [\"t\"], \"allow\": [\"read\"] },|" "$WORK/policy.json"
start_agent "$WORK/policy.json"
out=$(in_cgroup "/$TAG" env PGPASSWORD=x psql -X -h 127.0.0.2 -p "$FAKE" -U x -d orders -c "select 1" 2>&1) &&
	fail "a session without the server's SCRAM proof went through: $out"
case "$out" in *'accepted the login without proving it knows the password'*) ;;
	*) fail "no SCRAM proof: $out" ;; esac

# A job that connects and says nothing for 4 s is closed at the setup
# deadline (1 s here) while it still holds its end open.
sleep 4 | in_cgroup "/$TAG" "$TESTNET" send 127.0.0.2 "$PGPORT" >/dev/null 2>&1 ||
	fail "the silent session was not closed"
grep -q "end: setup timeout" "$AGENT_LOG" || fail "the silent session did not end at the setup deadline"
# Trickling a byte now and then does not move the deadline.
before=$(count "$AGENT_LOG" "end: setup timeout")
{ printf '\000\000\000\100'; for i in 1 2 3 4 5 6 7 8; do sleep 0.4; printf '\000'; done; } |
	in_cgroup "/$TAG" "$TESTNET" send 127.0.0.2 "$PGPORT" >/dev/null 2>&1
[ "$(count "$AGENT_LOG" "end: setup timeout")" -gt "$before" ] ||
	fail "a job trickling its startup was not closed at the setup deadline"
stop_agent
