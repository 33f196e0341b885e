# Rolling a policy out and containing a job: a rule in observe mode lets a
# statement it would deny run, logged and recorded as would_deny (and
# sluice-replay finds it); the agent in observe mode does the same for
# default denials. A rule with on_deny freeze_job refuses the statement and
# freezes the job's cgroup until sluicectl thaw; kill_job kills it.
. tests/lib.sh

CTL=$BUILD/sluicectl
REPLAY=$BUILD/sluice-replay
pg_start
LPORT=$(free_port)
mk_cgroup "/$TAG"
mk_cgroup "/$TAG/freeze"
mk_cgroup "/$TAG/kill"
mk_cgroup "/$TAG/agentwide"
write_pg_policy "$WORK/policy.json" "$LPORT"
python3 - "$WORK/policy.json" "/$TAG" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
tag = sys.argv[2]
base = p["rules"][0]
p["identities"] = [
    {"name": "freezer", "match": {"cgroup": tag + "/freeze"}, "roles": ["f"]},
    {"name": "killer", "match": {"cgroup": tag + "/kill"}, "roles": ["k"]},
    {"name": "job", "match": {"cgroup": tag}, "roles": ["t"]},
]
p["rules"] = [
    dict(base, deny=["drop"], mode="observe"),
    dict(base, roles=["f"], deny=["truncate"], on_deny="freeze_job"),
    dict(base, roles=["k"], deny=["truncate"], on_deny="kill_job"),
]
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF
start_agent "$WORK/policy.json"
pg_super -d orders -c "create table t (a int); alter table t owner to app" >/dev/null || fail "fixtures"

# ------------------------------------------------------ a rule observes
job_psql -c "drop table t" || fail "a drop the rule only observes was refused"
[ -z "$(pg_super -d orders -At -c "select to_regclass('t')")" ] || fail "the drop did not run"
grep -q "observe mode, let through: sluice: drop denied by policy rule 0" "$AGENT_LOG" ||
	fail "no would-deny log line"
grep -q "SLUICE_DECISION=would_deny" "$AGENT_LOG" || fail "no would_deny decision logged"
wait_recorded '"decision":"would_deny","rule":0,"class":"ddl","kind":"drop"' ||
	fail "no would_deny in the recording"
"$REPLAY" --dir "$WORK/state/recordings" --key "$WORK/state/recording.key" list --decision would_deny \
	> "$WORK/list" || fail "sluice-replay list"
[ "$(grep -c orders-db "$WORK/list")" = 1 ] || fail "list --decision would_deny: $(cat "$WORK/list")"

# ------------------------------------------------- freeze, then thaw
pg_super -d orders -c "create table t (a int); alter table t owner to app" >/dev/null || fail "fixtures"
out=$(in_cgroup "/$TAG/freeze" env PGPASSWORD=x psql -X -q -h 127.0.0.2 -p "$PGPORT" -U job -d orders \
	-c "truncate t" 2>&1) &
FROZEN=$!
PIDS="$FROZEN $PIDS"
wait_for "$AGENT_LOG" "freeze of the job's cgroup /$TAG/freeze: done" || fail "no freeze"
[ "$(sed -n 's/^frozen //p' "$CG_ROOT/$TAG/freeze/cgroup.events")" = 1 ] || fail "the cgroup is not frozen"
"$CTL" --socket "$WORK/control.sock" thaw "/$TAG/freeze" || fail "sluicectl thaw"
n=50
while [ "$(sed -n 's/^frozen //p' "$CG_ROOT/$TAG/freeze/cgroup.events")" != 0 ] && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
[ $n -gt 0 ] || fail "the cgroup stayed frozen after thaw"
wait "$FROZEN"
grep -q "cgroup /$TAG/freeze thawed by uid 0" "$AGENT_LOG" || fail "thaw not logged"
[ -n "$(pg_super -d orders -At -c "select to_regclass('t')")" ] || fail "t is gone"

# ------------------------------------------------------------- kill
live_psql "/$TAG/kill" "$WORK/k.out" -q
echo "truncate t;" >&7
wait "$LIVE"
rc=$?
exec 7>&-
[ "$rc" -ge 128 ] || fail "psql was not killed (status $rc): $(cat "$WORK/k.out")"
grep -q "kill of the job's cgroup /$TAG/kill: done" "$AGENT_LOG" || fail "no kill logged"
wait_recorded '"ev":"job_contained","[^}]*"action":"kill"' || fail "no kill in the recording"
stop_agent

# ------------------------------------------- the agent observes
sed -i 's/"agent": {/"agent": { "mode": "observe",/' "$WORK/policy.json"
python3 - "$WORK/policy.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["rules"][0]["allow"] = ["read", "session"]
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF
start_agent "$WORK/policy.json"
job_psql -c "insert into t values (1)" || fail "the agent in observe mode refused a default denial"
[ "$(pg_super -d orders -At -c 'select count(*) from t')" = 1 ] || fail "the insert did not run"
grep -q "observe mode, let through: sluice: insert denied: no rule allows class" "$AGENT_LOG" ||
	fail "no would-deny of the insert"
stop_agent
exit 0
