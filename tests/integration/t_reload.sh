# Policy reload (SIGHUP and sluicectl policy reload): all or nothing. A
# broken file, or one that changes what only a restart can, leaves the
# running policy in force and names the JSON path. A good one is a new
# generation: new sessions follow it, a live session keeps the policy it
# started under, the BPF selection changes in place (a newly selected
# cgroup is redirected, an unselected one goes direct again), and a removed
# target's connections are refused, not let around the agent.
. tests/lib.sh

CTL="$BUILD/sluicectl --socket $WORK/control.sock"
pg_start
SPORT=$(free_port)
start_server 127.0.0.2 "$SPORT"
LPORT=$(free_port)
mk_cgroup "/$TAG"
mk_cgroup "/$TAG-b"
write_pg_policy "$WORK/base.json" "$LPORT"
# VARIANT: one of the policies below, from the base one.
policy() { # VARIANT OUT
	python3 - "$WORK/base.json" "$2" "$1" "/$TAG" "$SPORT" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
out, variant, tag, sport = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
rule = p["rules"][0]
p["targets"].append({"name": "echo", "protocol": "tcp", "address": "127.0.0.2:" + sport})
p["rules"].append({"target": "echo", "roles": ["t"], "allow": ["connect"]})
if variant == "broken":
    rule["allow"] = ["read", "raed"]
elif variant == "listen":
    p["agent"]["listen"] = "127.0.0.1:1"
elif variant in ("second", "third"):
    # writes denied for new sessions; the echo target gone
    rule["deny"] = ["write"]
    p["targets"] = p["targets"][:1]
    p["rules"] = p["rules"][:1]
    if variant == "second":
        # cgroup TAG-b selected, and matched by the identity
        p["agent"]["select"]["cgroups"].append(tag + "-b")
        p["identities"][0]["match"]["cgroup"] = tag + "*"
json.dump(p, open(out, "w"), indent=2)
PY
}
policy first "$WORK/policy.json"
start_agent "$WORK/policy.json"
pg_super -d orders -c "create table t (a int); alter table t owner to app" >/dev/null || fail "fixtures"

generation() {
	$CTL --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["policy"]["generation"])'
}
b_psql() { # psql from TAG-b; the wrong password works only through the agent
	in_cgroup "/$TAG-b" env PGPASSWORD=not-the-password PGCONNECT_TIMEOUT=10 \
		psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" -U whoever -d orders "$@"
}

[ "$(generation)" = 1 ] || fail "generation at start: $(generation)"
in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "echo target refused at start"
b_psql -c "select 1" 2>"$WORK/b.err" && fail "TAG-b reached the server through the agent before it was selected"
grep -q "password authentication failed" "$WORK/b.err" || fail "TAG-b: $(cat "$WORK/b.err")"

# A live session of generation 1: psql fed through a fifo.
live_psql "/$TAG" "$WORK/live.out" -v ON_ERROR_STOP=1
echo "insert into t values (1);" >&7
n=100
while [ "$(pg_super -d orders -At -c "select count(*) from t")" != 1 ] && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
[ $n -gt 0 ] || fail "the live session's first insert: $(cat "$WORK/live.out")"

# --------------------------------------------- a broken file changes nothing
policy broken "$WORK/policy.json"
$CTL policy reload > "$WORK/r.out" 2> "$WORK/r.err" && fail "a broken policy was reloaded"
grep -q '^sluicectl: policy not reloaded: 1 error$' "$WORK/r.err" || fail "reload error: $(cat "$WORK/r.err")"
grep -q '\$\.rules\[0\]\.allow\[1\]: "raed"' "$WORK/r.err" || fail "no JSON path: $(cat "$WORK/r.err")"
grep -q 'generation 1 stays in force' "$AGENT_LOG" || fail "the agent did not say the old policy stays"
$CTL --json policy reload > "$WORK/r.json" 2>/dev/null
python3 - "$WORK/r.json" <<'PY' || fail "reload --json: $(cat "$WORK/r.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] is False and r["generation"] == 1, r
assert any(e.startswith("$.rules[0].allow[1]") for e in r["errors"]), r
PY
[ "$(generation)" = 1 ] || fail "generation after a broken reload: $(generation)"
job_psql -c "insert into t values (2)" || fail "the old policy is not in force after a broken reload"
in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "echo target lost after a broken reload"

# SIGHUP with a field only a restart changes: refused the same way.
policy listen "$WORK/policy.json"
before=$(count "$AGENT_LOG" "stays in force")
kill -HUP "$AGENT_PID"
wait_for "$AGENT_LOG" '\$\.agent\.listen: differs from the running agent' || fail "listen change not refused"
n=50
while [ "$(count "$AGENT_LOG" "stays in force")" = "$before" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
grep -q 'not reloaded (asked by SIGHUP from pid' "$AGENT_LOG" || fail "SIGHUP refusal not logged"
[ "$(generation)" = 1 ] || fail "generation after a refused SIGHUP: $(generation)"

# ----------------------------------------------------- SIGHUP: generation 2
policy second "$WORK/policy.json"
kill -HUP "$AGENT_PID"
wait_for "$AGENT_LOG" "reloaded (asked by SIGHUP from pid [0-9]*): generation 2" || fail "SIGHUP reload not logged"
grep -q "SLUICE_EVENT=policy_reloaded" "$AGENT_LOG" || fail "no policy_reloaded event"
[ "$(generation)" = 2 ] || fail "generation after SIGHUP: $(generation)"
# New sessions: writes refused, the removed target refused (not direct).
job_psql -c "insert into t values (3)" 2>"$WORK/deny.err" && fail "a new session wrote under generation 2"
grep -q "denied by policy rule 0" "$WORK/deny.err" || fail "denial: $(cat "$WORK/deny.err")"
expect_reset in_cgroup "/$TAG" "$TESTNET" probe 127.0.0.2 "$SPORT" ||
	fail "the removed target was not refused"
grep -q "destination was a target until a policy reload removed it" "$AGENT_LOG" ||
	fail "no refusal reason for the removed target"
# The live session keeps generation 1: its write still goes through.
echo "insert into t values (4);" >&7
n=100
while [ "$(pg_super -d orders -At -c "select count(*) from t where a = 4")" != 1 ] && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
[ $n -gt 0 ] || fail "the live session lost its policy: $(cat "$WORK/live.out")"
# TAG-b is selected now, in place: through the agent, the wrong password works.
b_psql -c "select count(*) from t" > /dev/null || fail "the newly selected cgroup is not redirected"
# sessions says which generation each session keeps.
$CTL --json sessions | python3 -c '
import json, sys
gens = sorted(s["generation"] for s in json.load(sys.stdin)["sessions"] if s["protocol"] == "postgres")
assert gens == [1], gens' || fail "sessions does not show the live session under generation 1"

# ------------------------------------- sluicectl policy reload: generation 3
runuser -u nobody -- $CTL policy reload 2> "$WORK/nobody.err" && fail "nobody reloaded the policy"
grep -q "permission denied" "$WORK/nobody.err" || fail "nobody: $(cat "$WORK/nobody.err")"
policy third "$WORK/policy.json"
$CTL policy reload > "$WORK/r.out" || fail "reload: $(cat "$WORK/r.out")"
grep -q '^policy reloaded: generation 3$' "$WORK/r.out" || fail "reload output: $(cat "$WORK/r.out")"
grep -q "reloaded (asked by uid 0 (root) on the control socket): generation 3" "$AGENT_LOG" ||
	fail "control reload not logged with its peer"
# TAG-b is no longer selected: its psql goes direct again.
b_psql -c "select 1" 2>"$WORK/b.err" && fail "TAG-b still redirected after it was unselected"
grep -q "password authentication failed" "$WORK/b.err" || fail "TAG-b: $(cat "$WORK/b.err")"

# The live session is still there, under generation 1, and ends cleanly.
echo "insert into t values (5);" >&7
exec 7>&-
wait "$LIVE" || fail "the live session failed: $(cat "$WORK/live.out")"
[ "$(pg_super -d orders -At -c "select count(*) from t where a = 5")" = 1 ] ||
	fail "the live session's last insert"
stop_agent
exit 0
