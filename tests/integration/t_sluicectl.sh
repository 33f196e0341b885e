# sluicectl without an agent: policy check and policy explain on policy
# files written here; the online commands against a socket nobody serves,
# and against a stand-in for the agent that answers as told (tables,
# refusals, answers that come in pieces, stop half way, never end or are
# not JSON); usage errors. The real agent's side: userspace/control.c.
. tests/lib.sh

CTL=$BUILD/sluicectl
ESC=$(printf '\033')

# The status of CMD..., its output in $WORK/out and $WORK/err.
status() {
	rc=0
	"$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	echo "$rc"
}

expect() { # STATUS CMD...: CMD ends with STATUS
	want=$1
	shift
	got=$(status "$@")
	[ "$got" = "$want" ] || fail "$*: status $got, want $want: $(cat "$WORK/out" "$WORK/err")"
}

out_has() { grep -q -- "$1" "$WORK/out" || fail "stdout lacks '$1': $(cat "$WORK/out")"; }
err_has() { grep -q -- "$1" "$WORK/err" || fail "stderr lacks '$1': $(cat "$WORK/err")"; }

# --- policy check
cat > "$WORK/policy.json" <<JSON
{
  "agent": { "control_socket": "$WORK/from-config.sock" },
  "identities": [
    { "name": "deploy", "match": { "cgroup": "/ci*" }, "roles": ["deployer"] },
    { "name": "reader", "match": { "cgroup": "/r*" }, "roles": ["ro"] },
    { "name": "stranger", "match": { "cgroup": "/s*" }, "roles": ["nobody"] }
  ],
  "targets": [
    { "name": "orders-db", "protocol": "postgres", "address": "127.0.0.2:5432" },
    { "name": "echo", "protocol": "tcp", "address": "127.0.0.3:7" }
  ],
  "rules": [
    { "target": "orders-db", "roles": ["deployer", "ro"], "allow": ["read", "write"],
      "mask": [ { "column": "password" }, { "column": "users.email", "with": "partial" },
                { "column_regex": "(?i)^(secret|ssn)" } ] },
    { "target": "orders-db", "roles": ["deployer"], "deny": ["drop", "delete_without_where"],
      "approve": ["delete"] },
    { "target": "orders-db", "roles": ["ro"], "allow": ["set"] },
    { "target": "echo", "roles": ["deployer"], "allow": ["connect"] }
  ]
}
JSON
P=$WORK/policy.json
expect 0 "$CTL" policy check "$P"
[ "$(cat "$WORK/out")" = "$P: ok" ] || fail "policy check: $(cat "$WORK/out")"

cat > "$WORK/bad.json" <<JSON
{ "agent": { "listen": "127.0.0.1:99999", "colour": "blue" },
  "rules": [ { "target": "nowhere", "roles": ["x"], "deny": ["dorp"] } ] }
JSON
expect 1 "$CTL" policy check "$WORK/bad.json"
err_has "^$WORK/bad.json: \$\.agent\.listen: "
err_has "^$WORK/bad.json: \$\.agent\.colour: unknown key"
err_has "^$WORK/bad.json: \$\.rules\[0\]\.target: no target named \"nowhere\""
err_has "^$WORK/bad.json: [0-9]* errors, not loaded$"
[ ! -s "$WORK/out" ] || fail "policy check of a broken file wrote to stdout"
expect 1 "$CTL" --json policy check "$WORK/bad.json"
python3 - "$WORK/out" "$WORK/bad.json" <<'PY' || fail "policy check --json: $(cat "$WORK/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["file"] == sys.argv[2] and r["ok"] is False, r
assert any(e.startswith("$.agent.colour: ") for e in r["errors"]), r
PY
expect 0 "$CTL" --json policy check "$P"
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert r["ok"] is True and r["errors"] == [], r' \
	"$WORK/out" || fail "policy check --json of a good file: $(cat "$WORK/out")"

expect 1 "$CTL" policy check "$WORK/missing.json"
err_has "^$WORK/missing.json: cannot read: No such file or directory"

# --- policy explain
explain() { # STATUS --identity I --target T --sql SQL [more]
	want=$1
	shift
	expect "$want" "$CTL" --config "$P" policy explain "$@"
}

explain 0 --identity deploy --target orders-db --sql "SELECT id FROM orders"
out_has "^session:   admitted by rule 0$"
out_has "^statement 1 of 1: SELECT id FROM orders$"
out_has "^  class:     read$"
out_has "^  kind:      select$"
out_has "^  tables:    orders$"
out_has "^  decision:  allow$"
out_has "^  rule:      0$"
out_has "^  word:      class read$"
out_has "^why:       allowed by rule 0: class read is in its allow list$"
out_has "^decision:  allow$"

explain 4 --identity deploy --target orders-db --sql "DROP TABLE orders"
out_has "^  word:      kind drop$"
out_has "^why:       denied by rule 1: \"drop\" is in its deny list$"

explain 3 --identity deploy --target orders-db --sql "DELETE FROM orders WHERE id = 7"
out_has "^  decision:  approve$"
out_has "^why:       needs approval by rule 1: \"delete\" is in its approve list$"

explain 4 --identity deploy --target orders-db --sql "DELETE FROM orders"
out_has "^  guards:    delete_without_where$"
out_has "^why:       denied by rule 1: \"delete_without_where\" is in its deny list$"

explain 4 --identity deploy --target orders-db --sql "CREATE TABLE t (a int)"
out_has "^  rule:      -$"
out_has "^why:       denied by default: no rule for roles \[deployer\] allows class ddl$"

# A kind in an allow list covers its home class only.
explain 0 --identity reader --target orders-db --sql "SET search_path = public"
out_has "^why:       allowed by rule 2: \"set\" is in its allow list and covers class session$"
explain 4 --identity reader --target orders-db --sql "SELECT pg_read_file('/etc/passwd')"
out_has "^  raised by: function pg_read_file$"
out_has "denied by default: no rule for roles \[ro\] allows class admin$"

# The strictest statement decides: deny over approve over allow.
explain 4 --identity deploy --target orders-db \
	--sql "SELECT 1; DELETE FROM orders WHERE id = 1; DROP TABLE orders; SELECT 2"
out_has "^statement 3 of 4: DROP TABLE orders$"
[ "$(grep -c '^  decision:' "$WORK/out")" -eq 4 ] || fail "not every statement explained"
out_has "^decision:  deny$"
out_has "^why:       statement 3 of 4: denied by rule 1: \"drop\" is in its deny list$"
explain 3 --identity deploy --target orders-db --sql "SELECT 1; DELETE FROM orders WHERE id = 1"
out_has "^why:       statement 2 of 2: needs approval"

# An EXECUTE is judged by its PREPARE earlier in the string, else denied.
explain 4 --identity deploy --target orders-db \
	--sql "PREPARE p AS DELETE FROM orders; EXECUTE p"
[ "$(grep -c '^  word:      guard delete_without_where$' "$WORK/out")" -eq 2 ] ||
	fail "EXECUTE not judged by its PREPARE: $(cat "$WORK/out")"
explain 4 --identity deploy --target orders-db --sql "EXECUTE q"
out_has "denied: EXECUTE of \"q\" without a PREPARE of it"

explain 4 --identity deploy --target orders-db --sql "SELECT * FORM orders"
out_has "^error:     syntax error at or near \"FORM\" (at character 10)$"
out_has "^why:       denied: the string does not parse"

# A session no rule admits.
explain 4 --identity stranger --target orders-db --sql "SELECT 1"
out_has "^session:   refused"
out_has "^why:       denied by default: no rule for target \"orders-db\" names any of the roles \[nobody\], so the agent refuses the session$"

explain 1 --identity ghost --target orders-db --sql "SELECT 1"
err_has "no identity named \"ghost\""
explain 1 --identity deploy --target nowhere --sql "SELECT 1"
err_has "no target named \"nowhere\""
explain 1 --identity deploy --target echo --sql "SELECT 1"
err_has "not a postgres target"
expect 1 "$CTL" --config "$WORK/bad.json" policy explain --identity a --target b --sql "SELECT 1"
err_has "\$\.agent\.colour: unknown key"

# Masks whose column the SQL names: by name, table.column, regex (any case).
explain 0 --identity reader --target orders-db \
	--sql "SELECT u.email, u.\"SSN\", u.ssn, name FROM public.users u"
out_has "^  masked:    email: rule 0, mask 1 (column \"users.email\", with partial)$"
out_has "^  masked:    SSN, ssn: rule 0, mask 2 (column_regex \"(?i)^(secret|ssn)\", with redact)$"
! grep -q "mask 0" "$WORK/out" || fail "the password mask matched no named column: $(cat "$WORK/out")"
explain 0 --identity reader --target orders-db --sql "SELECT email FROM accounts"
! grep -q "masked:" "$WORK/out" || fail "users.email matched a column of accounts"
explain 0 --identity reader --target orders-db --sql "SELECT * FROM users"
out_has "^  note:      it reads \* or whole rows"

# Text from the SQL is escaped for the terminal.
explain 0 --identity reader --target orders-db --sql "SELECT 'a${ESC}[2J' AS \"x${ESC}y\""
! grep -q "$ESC" "$WORK/out" || fail "explain wrote an escape character"
out_has "SELECT 'a\\\\x1b\[2J'"

explain 4 --identity deploy --target orders-db --json \
	--sql "SELECT email FROM users; DELETE FROM orders WHERE id = 1; DROP TABLE orders"
python3 - "$WORK/out" <<'PY' || fail "explain --json: $(cat "$WORK/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert (r["identity"], r["target"], r["roles"], r["session_rule"]) == ("deploy", "orders-db", ["deployer"], 0), r
assert (r["decision"], r["statement"], r["rule"], r["word"]) == ("deny", 2, 1, "drop"), r
assert r["why"] == 'statement 3 of 3: denied by rule 1: "drop" is in its deny list', r
s = r["statements"]
assert [x["decision"] for x in s] == ["allow", "approve", "deny"], s
assert (s[0]["class"], s[0]["kind"], s[0]["classes"], s[0]["kinds"]) == ("read", "select", ["read"], ["select"]), s[0]
assert (s[0]["tables"], s[0]["columns"], s[0]["guards"], s[0]["rule"], s[0]["word_is"]) == \
    (["users"], ["email"], [], 0, "class"), s[0]
assert s[0]["masks"] == [{"rule": 0, "mask": 1, "column": "users.email", "with": "partial", "matches": ["email"]}], s[0]
assert (s[1]["word"], s[1]["word_is"], s[1]["text"]) == ("delete", "kind", " DELETE FROM orders WHERE id = 1"), s[1]
assert s[2]["why"] == 'denied by rule 1: "drop" is in its deny list', s[2]
PY
explain 4 --identity deploy --target orders-db --json --sql "SELEC 1"
python3 - "$WORK/out" <<'PY' || fail "explain --json of a syntax error: $(cat "$WORK/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert (r["decision"], r["statements"], r["error_position"]) == ("deny", [], 1), r
assert "syntax error" in r["error"], r
PY

# --- online commands with nobody listening
expect 1 "$CTL" --socket "$WORK/none.sock" status
err_has "^sluicectl: cannot connect to $WORK/none.sock: No such file or directory"
expect 1 "$CTL" --config "$P" sessions
err_has "cannot connect to $WORK/from-config.sock: "
touch "$WORK/plain-file"
expect 1 "$CTL" --socket "$WORK/plain-file" approvals
err_has "cannot connect to $WORK/plain-file: Connection refused"
expect 1 "$CTL" --socket "$WORK/$(printf '%0120d' 0)" status
err_has "the path is longer than"

# --- a stand-in for the agent: one connection, the request saved, the
# answer (a line) sent as MODE says.
cat > "$WORK/agent.py" <<'PY'
import os, socket, sys, time
path, mode, answer, saved = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4]
answer += b"\n" if answer else b""
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
open(path + ".ready", "w").write("ready\n")
s.settimeout(30)
c, _ = s.accept()
c.settimeout(30)
req = b""
while not req.endswith(b"\n"):
    chunk = c.recv(65536)
    if not chunk:
        break
    req += chunk
open(saved, "wb").write(req)
try:
    if mode == "pieces":          # a few bytes at a time
        for i in range(0, len(answer), 5):
            c.sendall(answer[i:i + 5])
            time.sleep(0.002)
    elif mode == "whole":
        c.sendall(answer)
    elif mode == "half":          # part of it, then gone
        c.sendall(answer[:len(answer) // 2])
    elif mode == "long":          # more than the client takes, and no newline
        for _ in range(17):
            c.sendall(b"x" * (1 << 20))
    elif mode == "silent":        # never answers
        time.sleep(12)
except (BrokenPipeError, ConnectionResetError):
    pass
c.close()
s.close()
os.unlink(path)
PY
SOCK=$WORK/agent.sock
ctl() { # MODE ANSWER STATUS ARGS...: sluicectl against the stand-in
	mode=$1 answer=$2 want=$3
	shift 3
	rm -f "$SOCK.ready"
	python3 "$WORK/agent.py" "$SOCK" "$mode" "$answer" "$WORK/request" &
	agent=$!
	wait_for "$SOCK.ready" ready || fail "the stand-in did not start"
	got=$(status "$CTL" --socket "$SOCK" "$@")
	wait "$agent"
	[ "$got" = "$want" ] || fail "$* ($mode): status $got, want $want: $(cat "$WORK/out" "$WORK/err")"
}
request_is() {
	[ "$(cat "$WORK/request")" = "$1" ] || fail "request: $(cat "$WORK/request"), want $1"
}

now=$(date +%s)
T1=$(date -u -d @1796084052 '+%Y-%m-%d %H:%M:%S')
T2=$(date -u -d @1796084000 '+%Y-%m-%d %H:%M:%S')
SESSIONS='{"ok":true,"sessions":[{"id":"1a02f00dcafe0001","identity":"ci-deploy","target":"orders-db","protocol":"postgres","user":"ci","uid":1001,"pid":4242,"exe":"/usr/bin/psql","started":1796084052,"waiting":"a1b2c3d4"},{"id":"1a02f00dcafe0002","identity":"evil\u001b[2J","target":"echo","protocol":"tcp","uid":1002,"pid":7,"started":1796084000}]}'
ctl pieces "$SESSIONS" 0 sessions
request_is '{"cmd":"sessions"}'
head -n 1 "$WORK/out" | grep -q '^ID  *IDENTITY  *TARGET  *PROTO  *USER  *PID  *EXE  *STARTED  *WAITING$' ||
	fail "sessions: header: $(cat "$WORK/out")"
out_has "^1a02f00dcafe0001  ci-deploy    orders-db  postgres  ci    4242  /usr/bin/psql  $T1  a1b2c3d4$"
out_has "^1a02f00dcafe0002  evil\\\\x1b\[2J  echo       tcp       1002     7  -              $T2  -$"
! grep -q "$ESC" "$WORK/out" || fail "sessions wrote an escape character"

APPROVALS='{"ok":true,"approvals":[{"id":"a1b2c3d4","session":"1a02f00dcafe0001","identity":"ci-deploy","target":"orders-db","statement":"DELETE FROM orders WHERE id = $1\n\u202e","class":"write","kind":"delete","rule":2,"asked":1796084052,"expires":'$((now + 3000))'},{"id":"b","session":"s","identity":"x","target":"y","statement":"DROP TABLE t","class":"ddl","kind":"drop","rule":10,"asked":1796084000,"expires":'$((now - 5))'}]}'
ctl whole "$APPROVALS" 0 approvals
head -n 1 "$WORK/out" | grep -q '^ID  *SESSION  *IDENTITY  *TARGET  *RULE  *CLASS/KIND  *ASKED  *EXPIRES IN  *STATEMENT$' ||
	fail "approvals: header: $(cat "$WORK/out")"
out_has "^a1b2c3d4  1a02f00dcafe0001  ci-deploy  orders-db     2  write/delete  $T1  [45][09]m[0-9]*s  *DELETE FROM orders WHERE id = \$1\\\\n\\\\u{202e}$"
out_has "^b         s                 x          y            10  ddl/drop      $T2  expired     DROP TABLE t$"

STATUS='{"ok":true,"version":"0.1.0","pid":1234,"uptime_s":3600,"policy":{"file":"/etc/sluice/policy.json","generation":2,"loaded":1796084052},"decisions":{"allow":120,"deny":4},"bpf":{"attached":true,"cgroups":["/ci.slice","/b"],"users":[]},"later\u0007":1.5}'
ctl pieces "$STATUS" 0 status
for want in "^version: 0.1.0$" "^pid: 1234$" "^uptime_s: 3600 (1h00m)$" "^policy.generation: 2$" \
	"^policy.loaded: $T1$" "^decisions.deny: 4$" "^bpf.attached: true$" \
	"^bpf.cgroups: /ci.slice, /b$" "^bpf.users: -$" "^later\\\\x07: 1.5$"; do
	out_has "$want"
done
! grep -q "^ok:" "$WORK/out" || fail "status shows ok"
ctl whole "$STATUS" 0 --json status
python3 - "$WORK/out" <<'PY' || fail "status --json: $(cat "$WORK/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] is True and r["policy"]["generation"] == 2 and r["later\u0007"] == 1.5, r
PY

# Each command's request and what it says when done.
ctl whole '{"ok":true}' 0 kill 1a02f00dcafe0001
request_is '{"cmd":"kill","session":"1a02f00dcafe0001"}'
out_has "^session 1a02f00dcafe0001 killed$"
ctl whole '{"ok":true}' 0 approve a1b2c3d4
request_is '{"cmd":"approve","id":"a1b2c3d4"}'
ctl whole '{"ok":true}' 0 approve a1b2c3d4 --for-session
request_is '{"cmd":"approve","id":"a1b2c3d4","scope":"session"}'
for d in 90s:90 15m:900 2h:7200 1d:86400 3600:3600 7d:604800; do
	ctl whole '{"ok":true}' 0 approve --for "${d%:*}" a1b2c3d4
	request_is '{"cmd":"approve","id":"a1b2c3d4","scope":"identity","for_s":'"${d#*:}"'}'
done
ctl whole '{"ok":true}' 0 deny a1b2c3d4 --reason 'not during the "freeze"'
request_is '{"cmd":"deny","id":"a1b2c3d4","reason":"not during the \"freeze\""}'
ctl whole '{"ok":true}' 0 thaw /ci.slice/job-42
request_is '{"cmd":"thaw","cgroup":"/ci.slice/job-42"}'
ctl whole '{"ok":true,"generation":3}' 0 policy reload
request_is '{"cmd":"policy_reload"}'
out_has "^policy reloaded: generation 3$"

# Refusals: the agent's error (escaped) on stderr, and a reload's errors.
ctl whole '{"ok":false,"error":"no such session: 99\u001b[2J"}' 1 kill 99
err_has '^sluicectl: no such session: 99\\x1b\[2J$'
[ ! -s "$WORK/out" ] || fail "a refusal wrote to stdout"
ctl whole '{"ok":false,"error":"policy not reloaded: 2 errors","errors":["$.rules[0].allow[1]: unknown class \"raed\"","$.x: y"]}' 1 policy reload
err_has '^sluicectl: policy not reloaded: 2 errors$'
err_has '^  \$\.rules\[0\]\.allow\[1\]: unknown class "raed"$'
err_has '^  \$\.x: y$'
ctl whole '{"ok":false,"error":"permission denied: sluice-approvers"}' 1 --json approvals
python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["ok"] is False' "$WORK/out" ||
	fail "--json of a refusal: $(cat "$WORK/out")"
err_has "permission denied"

# Answers that are not what the protocol says.
ctl half "$STATUS" 1 status
err_has "closed the connection in the middle of its answer"
ctl whole '' 1 status
err_has "closed the connection without answering"
ctl long '' 1 status
err_has "answer is longer than 16 MiB"
for bad in 'not json' '[1]' '{"ok":1}' '{"ok":true} trailing'; do
	ctl whole "$bad" 1 status
	err_has "not a JSON object with \"ok\""
done
ctl whole '{"ok":true}' 1 sessions
err_has "answer lacks"
ctl silent '' 1 status
err_has "no answer from the agent within 10 seconds"

# --- usage errors
usage() {
	expect 2 "$CTL" "$@"
	err_has "^usage: sluicectl"
}
usage
usage frobnicate
usage policy
usage policy frob
usage kill
usage kill a b
usage status extra
usage --bogus status
usage status --socket
usage deny a1
usage deny a1 --reason ""
usage approve a1 --for 0
usage approve a1 --for 8d
usage approve a1 --for 1w
usage approve a1 --for -5
usage approve a1 --for-session --for 1h
usage status --reason x
usage policy check
usage policy explain --identity a --target b
usage policy explain --sql x --target b
expect 0 "$CTL" --help
out_has "^usage: sluicectl"

echo "ok"
