#!/bin/sh
# make demo: the data path and the PostgreSQL module end to end on loopback.
#
# A throwaway PostgreSQL listens on 127.0.0.2. A "CI job" in its own cgroup
# runs plain, unmodified psql against that address, holding no password; the
# kernel hands the connection to sluiced, which names the job (cgroup, pid,
# user, exe) and logs in to the server with the stored credentials of "app".
set -u
cd "$(dirname "$0")/.."
SLUICE_BUILD=${1:-build}
. tests/lib.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "a throwaway PostgreSQL on 127.0.0.2; role app's password is in a file only root reads"
pg_start
ls -l "$WORK/app.pw"
echo "PostgreSQL on 127.0.0.2:$PGPORT"
PGPASSWORD="$PGSUPER_PW" psql -X -q -h 127.0.0.2 -p "$PGPORT" -U postgres -d orders <<'EOF' ||
CREATE TABLE customers (id int, name text, email text, ssn text);
INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '078-05-1120'),
	(2, 'Brian', 'brian.k@example.org', '219-09-9999');
ALTER TABLE customers OWNER TO app;
EOF
	fail "could not create the demo table"

say "sluiced selects cgroup /$TAG for target orders-db (127.0.0.2:$PGPORT)"
mk_cgroup "/$TAG"
mk_cgroup "/$TAG/ci-job-42"
PG_ALLOW='"read", "write", "session"' write_pg_policy "$WORK/policy.json" "$(free_port)"
python3 - "$WORK/policy.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["rules"][0].update(deny=["drop", "delete_without_where"], approve=["delete"], timeout="60s",
                     mask=[{"column": "ssn"}, {"column": "customers.email", "with": "partial"}])
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF
cat "$WORK/policy.json"
start_agent "$WORK/policy.json" env SLUICE_DEBUG=1
grep -E "attached|serving" "$AGENT_LOG"

say "the job runs plain psql against 127.0.0.2:$PGPORT, from its cgroup, with no password"
in_cgroup "/$TAG/ci-job-42" env -u PGPASSWORD psql -X -h 127.0.0.2 -p "$PGPORT" -U ci -d orders -c \
	"select current_user, inet_server_addr() as server, version() ~ 'PostgreSQL' as ok" ||
	fail "psql through sluice failed"
wait_for "$AGENT_LOG" "session_end" || fail "no session logged"

say "the policy: reads work with columns masked; DROP is denied"
in_cgroup "/$TAG/ci-job-42" psql -X -h 127.0.0.2 -p "$PGPORT" -U ci -d orders \
	-c "select * from customers order by id" -c "select name, upper(ssn) from customers" \
	-c "drop table customers" 2>&1 | sed 's/^/    /'

say "a DELETE waits for approval (the job runs as nobody; root approves from another terminal)"
in_cgroup "/$TAG/ci-job-42" runuser -u nobody -- psql -X -h 127.0.0.2 -p "$PGPORT" -U ci -d orders \
	-c "delete from customers where id = 2" > "$WORK/delete.out" 2>&1 &
JOB=$!
CTL="$BUILD/sluicectl --socket $WORK/control.sock"
n=100
while ! $CTL approvals | grep -q delete && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
$CTL approvals | sed 's/^/    /'
id=$($CTL --json approvals | python3 -c 'import json,sys; print(json.load(sys.stdin)["approvals"][0]["id"])')
echo "    \$ sluicectl approve $id"
$CTL approve "$id" || fail "approve"
wait "$JOB"
sed 's/^/    job: /' "$WORK/delete.out"
pg_super -d orders -At -c "select count(*) || ' row(s) left in customers' from customers"

say "what sluiced logged (stderr and journald, one structured entry each)"
grep -E "session_(start|end)|postgres startup|authenticated|statement SLUICE|denied|approval" "$AGENT_LOG" |
	sed 's/ SLUICE_/\n    SLUICE_/g'

say "the recordings: sluice-replay lists the sessions and shows one (masked values stay masked)"
REPLAY="$BUILD/sluice-replay --dir $WORK/state/recordings --key $WORK/state/recording.key"
$REPLAY list | sed 's/^/    /'
sel=$($REPLAY list --json | python3 -c 'import json,sys
for line in sys.stdin:
    s = json.loads(line)
    if s.get("statements", 0) >= 3:
        print(s["session"]); break')
[ -n "$sel" ] && $REPLAY show "$sel" | sed 's/^/    /'

say "the access review: what each identity reached and used, and what to remove"
"$BUILD/sluicectl" --config "$WORK/policy.json" review --no-journal | sed 's/^/    /'

say "the same psql outside the job's cgroup goes direct, and needs the password"
before=$(count "$AGENT_LOG" session_start)
psql -X -h 127.0.0.2 -p "$PGPORT" -U app -d orders -w -c "select 1" 2>&1 | sed 's/^/    /'
[ "$(count "$AGENT_LOG" session_start)" = "$before" ] || fail "an unselected psql went through sluice"

say "kill -9 sluiced: the job is refused (fail closed), everything else still works"
kill9_agent
in_cgroup "/$TAG/ci-job-42" psql -X -h 127.0.0.2 -p "$PGPORT" -U ci -d orders -c "select 1" 2>&1 |
	sed 's/^/    job: /'
pg_super -At -c "select 'others: still fine'"

say "restart: sluiced adopts its pinned links; then --detach removes them"
start_agent "$WORK/policy.json"
grep "swapped into pinned links" "$AGENT_LOG"
stop_agent
"$SLUICED" --config "$WORK/policy.json" --detach

say "done: install it as a package with make deb (or make rpm); docs/install.md"
