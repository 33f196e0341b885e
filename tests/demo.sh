#!/bin/sh
# make demo: the data path end to end on loopback.
#
# A throwaway PostgreSQL listens on 127.0.0.2:5432. A "CI job" in its own
# cgroup runs plain, unmodified psql against that address; the kernel hands
# the connection to sluiced, which names the job (cgroup, pid, user, exe)
# and relays it. The same psql outside the job's cgroup goes direct.
set -u
cd "$(dirname "$0")/.."
SLUICE_BUILD=${1:-build}
. tests/lib.sh
trap 'pg_stop; cleanup' EXIT

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || fail "PostgreSQL server binaries not found (make deps installs them)"
PGDATA="$WORK/pgdata"
DB=127.0.0.2
PORT=${DEMO_PORT:-5432}
LPORT=$(free_port)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pg_stop() { [ -d "$PGDATA" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1; }

ss -Htln "sport = :$PORT" | grep -q "$DB:$PORT\|\*:$PORT\|0.0.0.0:$PORT" &&
	fail "something already listens on port $PORT; run with DEMO_PORT=another"

say "a throwaway PostgreSQL on $DB:$PORT"
mkdir -p "$PGDATA" && chown postgres "$WORK" "$PGDATA" && chmod 0711 "$WORK"
echo "demo-password" > "$WORK/pwfile" && chown postgres "$WORK/pwfile"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=scram-sha-256 \
	--pwfile="$WORK/pwfile" >/dev/null || fail "initdb failed"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/pg.log" -w start \
	-o "-c listen_addresses=$DB -c port=$PORT -c unix_socket_directories=$PGDATA" >/dev/null ||
	fail "PostgreSQL did not start: $(tail -n 5 "$WORK/pg.log")"
echo "ok"

say "sluiced selects cgroup /$TAG for target $DB:$PORT"
mk_cgroup "/$TAG"
mk_cgroup "/$TAG/ci-job-42"
write_policy "$WORK/policy.json" "$LPORT" "orders-db $DB:$PORT"
sed -i 's/"name": "job"/"name": "ci-job"/' "$WORK/policy.json"
cat "$WORK/policy.json"
start_agent "$WORK/policy.json"
grep -E "attached|serving" "$AGENT_LOG"

say "the job runs plain psql against $DB:$PORT, from inside its cgroup"
in_cgroup "/$TAG/ci-job-42" env PGPASSWORD=demo-password \
	psql -h "$DB" -p "$PORT" -U postgres -d postgres -X -c \
	"select current_user, inet_server_addr() as server, inet_client_addr() as seen_from, version() ~ 'PostgreSQL' as ok" ||
	fail "psql through sluice failed"
wait_for "$AGENT_LOG" "session_end" || fail "no session logged"

say "what sluiced logged (stderr and journald, one structured entry each)"
grep -E "session_(start|end)" "$AGENT_LOG" | sed 's/ SLUICE_/\n    SLUICE_/g'

say "the same psql outside the job's cgroup goes direct (no new session)"
before=$(count "$AGENT_LOG" session_start)
PGPASSWORD=demo-password psql -h "$DB" -p "$PORT" -U postgres -d postgres -X -At \
	-c "select 'direct: ' || inet_client_addr()" || fail "direct psql failed"
[ "$(count "$AGENT_LOG" session_start)" = "$before" ] || fail "an unselected psql went through sluice"
echo "sessions seen by sluiced: $before"

say "kill -9 sluiced: the job is refused (fail closed), everything else still works"
kill9_agent
in_cgroup "/$TAG/ci-job-42" env PGPASSWORD=demo-password \
	psql -h "$DB" -p "$PORT" -U postgres -d postgres -X -c "select 1" 2>&1 | sed 's/^/    job: /'
PGPASSWORD=demo-password psql -h "$DB" -p "$PORT" -U postgres -d postgres -X -At -c "select 'others: still fine'"

say "restart: sluiced adopts its pinned links; then --detach removes them"
start_agent "$WORK/policy.json"
grep "swapped into pinned links" "$AGENT_LOG"
stop_agent
"$SLUICED" --config "$WORK/policy.json" --detach

say "coming next (open issues): PostgreSQL protocol with injected credentials, SQL policy and masking, recordings and sluice-replay, approvals via sluicectl, OIDC identities and access review"
