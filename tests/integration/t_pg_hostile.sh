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

wait "$HEALTHY" || fail "the healthy session failed: $(cat "$WORK/healthy.out")"
[ "$(grep -c '^still$\|^healthy$' "$WORK/healthy.out")" -eq 2 ] || fail "healthy session output: $(cat "$WORK/healthy.out")"
out=$(job_psql -At -c "select 'after'") || fail "a new session after the attacks failed"
[ "$out" = after ] || fail "new session: $out"
stop_agent
