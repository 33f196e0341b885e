# Just-in-time approvals through the control socket: psql in a job cgroup
# runs a DELETE that a rule wants approved; it waits (told by a notice)
# while other sessions work; sluicectl approve from an approver lets it
# finish, deny gives the job the reason, no decision within the rule's
# timeout denies, an approval for the identity lets the next one through,
# and a job that goes away or cancels withdraws its request. A non-member and the
# job's own uid may not decide. Each step is in journald and the recording;
# a pending approval is posted to the webhook (a small HTTP server here).
. tests/lib.sh

CTL=$BUILD/sluicectl
APPROVER=sluice-test-appr
OTHER=sluice-test-other
MADE_GROUP=""
getent group sluice-approvers >/dev/null || { groupadd sluice-approvers && MADE_GROUP=1; }
useradd -M -N -s /usr/sbin/nologin -G sluice-approvers "$APPROVER" 2>/dev/null ||
	fail "useradd $APPROVER"
useradd -M -N -s /usr/sbin/nologin "$OTHER" 2>/dev/null || fail "useradd $OTHER"
trap 'userdel "$APPROVER" 2>/dev/null; userdel "$OTHER" 2>/dev/null;
	[ -n "$MADE_GROUP" ] && groupdel sluice-approvers 2>/dev/null; cleanup' EXIT

pg_start
pg_super -d orders -c "create table jobs (id int, note text); alter table jobs owner to app;
	insert into jobs select g, 'n' || g from generate_series(1, 10) g" >/dev/null || fail "fixtures"
HPORT=$(free_port)
python3 - "$HPORT" "$WORK/hook.log" <<'EOF' &
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "ab") as f:
            f.write(self.path.encode() + b" " + body + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
EOF
PIDS="$! $PIDS"
n=50
while ! ss -Htln "sport = :$HPORT" | grep -q . && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
LPORT=$(free_port)
mk_cgroup "/$TAG"
write_pg_policy "$WORK/policy.json" "$LPORT"
python3 - "$WORK/policy.json" "$HPORT" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["agent"]["record_flush_ms"] = 100
p["agent"]["approval_webhook"] = "http://127.0.0.1:%s/hook" % sys.argv[2]
p["rules"][0].update(approve=["delete"], timeout="4s")
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF
start_agent "$WORK/policy.json"
chmod 0755 "$WORK" # the approvers reach the socket in it
ctl() { # [USER] ARGS...: sluicectl as USER (default root)
	if [ "$1" = "$APPROVER" ] || [ "$1" = "$OTHER" ]; then
		u=$1
		shift
		runuser -u "$u" -- "$CTL" --socket "$WORK/control.sock" "$@"
	else
		"$CTL" --socket "$WORK/control.sock" "$@"
	fi
}
# Start a DELETE in the background; wait until it asks; APPROVAL is its id.
ask() { # OUT SQL
	job_psql -c "$2" > "$1" 2>&1 &
	ASKER=$!
	PIDS="$ASKER $PIDS"
	n=100
	APPROVAL=""
	while [ -z "$APPROVAL" ] && [ $n -gt 0 ]; do
		APPROVAL=$(ctl --json approvals | python3 -c 'import json,sys; a=json.load(sys.stdin)["approvals"]; print(a[0]["id"] if a else "")')
		[ -n "$APPROVAL" ] || sleep 0.1
		n=$((n - 1))
	done
	[ -n "$APPROVAL" ] || fail "no approval was asked for: $(cat "$1")"
}

# ------------------------------------------------------------- approve
ask "$WORK/a.out" "delete from jobs where id = 1"
ctl --json approvals > "$WORK/approvals.json"
python3 - "$WORK/approvals.json" "$TAG" <<'EOF' || fail "approvals list: $(cat "$WORK/approvals.json")"
import json, sys
a = json.load(open(sys.argv[1]))["approvals"]
assert len(a) == 1, a
a = a[0]
assert a["statement"] == "delete from jobs where id = $1", a
assert a["kind"] == "delete" and a["class"] == "write" and a["rule"] == 0, a
assert a["identity"] == "job" and a["target"] == "orders-db", a
assert a["facts"]["cgroup"] == "/" + sys.argv[2] and a["expires"] - a["asked"] == 4, a
EOF
wait_for "$WORK/hook.log" "$APPROVAL" || fail "the webhook was not posted"
python3 - "$WORK/hook.log" "$APPROVAL" <<'EOF' || fail "webhook body: $(cat "$WORK/hook.log")"
import json, sys
path, body = open(sys.argv[1]).readline().split(" ", 1)
b = json.loads(body)
assert path == "/hook" and b["id"] == sys.argv[2] and b["event"] == "approval_pending", b
assert b["statement"] == "delete from jobs where id = $1" and b["kind"] == "delete", b
EOF
wait_for "$AGENT_LOG" "approval webhook http://127.0.0.1:$HPORT/hook: notified" ||
	fail "the webhook's answer was not logged"
# Other sessions go on while one waits.
out=$(job_psql -At -c "select count(*) from jobs") || fail "a second session while one waits"
[ "$out" = 10 ] || fail "second session: $out"
ctl sessions | grep -q "$APPROVAL" || fail "sessions does not show the waiting one"
out=$(ctl "$OTHER" approve "$APPROVAL" 2>&1) && fail "a non-member approved: $out"
case "$out" in *"permission denied"*) ;; *) fail "non-member: $out" ;; esac
out=$(ctl approve "$APPROVAL" 2>&1) && fail "the job's own uid approved: $out"
case "$out" in *"own uid"*) ;; *) fail "own uid: $out" ;; esac
ctl "$APPROVER" approve "$APPROVAL" || fail "the approver could not approve"
wait "$ASKER" || fail "the approved delete failed: $(cat "$WORK/a.out")"
grep -q "needs approval $APPROVAL" "$WORK/a.out" || fail "no notice named the approval: $(cat "$WORK/a.out")"
[ "$(pg_super -d orders -At -c 'select count(*) from jobs where id = 1')" = 0 ] ||
	fail "the row is still there"

# ---------------------------------------------------------------- deny
ask "$WORK/d.out" "delete from jobs where id = 2"
ctl "$APPROVER" deny "$APPROVAL" --reason "not during the freeze" || fail "deny"
wait "$ASKER" && fail "a denied delete succeeded"
grep -q "ERROR:  sluice: delete not approved (approval $APPROVAL): not during the freeze" "$WORK/d.out" ||
	fail "the job did not get the reason: $(cat "$WORK/d.out")"
[ "$(pg_super -d orders -At -c 'select count(*) from jobs where id = 2')" = 1 ] ||
	fail "a denied delete ran"

# ------------------------------------------------------------- timeout
ask "$WORK/t.out" "delete from jobs where id = 3"
wait "$ASKER" && fail "a delete nobody approved succeeded"
grep -q "no decision within 4 seconds" "$WORK/t.out" || fail "timeout: $(cat "$WORK/t.out")"

# ----------------------------------------- approve for the identity
ask "$WORK/i.out" "delete from jobs where id = 4"
ctl "$APPROVER" approve "$APPROVAL" --for 60s || fail "approve --for"
wait "$ASKER" || fail "delete approved for the identity: $(cat "$WORK/i.out")"
# The same statement with another constant runs without asking.
out=$(job_psql -c "delete from jobs where id = 5" 2>&1) || fail "granted delete: $out"
case "$out" in *"needs approval"*) fail "asked again within the grant" ;; esac

# ------------------------------------------------ the job goes away
# (Another statement: the grant above covers deletes by id.)
ask "$WORK/w.out" "delete from jobs where note = 'n6'"
pkill -TERM -P "$ASKER" # psql, the child of the backgrounded function
n=50
while [ -n "$(ctl --json approvals | python3 -c 'import json,sys; print(json.load(sys.stdin)["approvals"] or "")')" ] &&
	[ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
[ $n -gt 0 ] || fail "the approval of a job that went away is still pending"
grep -q "approval $APPROVAL withdrawn" "$AGENT_LOG" || fail "no withdrawal logged"
[ "$(pg_super -d orders -At -c 'select count(*) from jobs where id = 6')" = 1 ] ||
	fail "a withdrawn delete ran"

# ------------------------------------- the job cancels (psql's Ctrl-C)
ask "$WORK/c.out" "delete from jobs where note = 'n7'"
pkill -INT -P "$ASKER"
wait "$ASKER" && fail "a cancelled delete succeeded"
grep -q "delete not approved (approval $APPROVAL): cancelled by the job" "$WORK/c.out" ||
	fail "cancel: $(cat "$WORK/c.out")"
[ "$(pg_super -d orders -At -c "select count(*) from jobs where note = 'n7'")" = 1 ] ||
	fail "a cancelled delete ran"

# ------------------------------------------- journald and recordings
grep -q "approval [0-9a-f]* approved by $APPROVER (uid [0-9]*), scope once" "$AGENT_LOG" ||
	fail "no approval logged with who decided"
wait_recorded '"ev":"approval",.*"state":"decided",.*"by":"'"$APPROVER"'"' ||
	fail "no decided approval in a recording"
wait_recorded '"ev":"approval",.*"state":"expired"' || fail "no expired approval in a recording"
ctl --json status | python3 -c 'import json,sys; d=json.load(sys.stdin)["decisions"]; sys.exit(d["approve"] < 6)' ||
	fail "status does not count the approvals asked for: $(ctl --json status)"
# kill: root ends a session.
live_psql "/$TAG" "$WORK/k.out"
echo "select 'alive' as marker;" >&7
wait_for "$WORK/k.out" alive || fail "long session"
sid=$(ctl --json sessions | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"][0]["id"])')
ctl kill "$sid" || fail "kill"
wait_for "$AGENT_LOG" "session $sid end: killed by uid 0" || fail "kill not logged"
exec 7>&-
stop_agent
exit 0
