# Session recordings end to end: psql and a raw extended-protocol client
# through the agent leave a recording with their statements, decisions,
# masked rows and results; no masked value and no literal (a password, a
# token, a value stored into a masked column) is anywhere in the
# recordings folder (decompressed) or in journald; bound parameters only
# where nothing masks and the statement is a plain read or write; an event
# too large for a chunk is cut, not the recording; sluice-replay shows,
# exports and verifies it; journald has one entry per statement decision;
# a kill -9 leaves a file that verifies as unsealed but intact.
. tests/lib.sh

REPLAY=$BUILD/sluice-replay
SSN1="111-22-$$"
SSN2="444-55-$$"
SSN3="777-88-$$"
SSN4="999-00-$$"
PW="pw-$$-secret"
TOK="tok-$$-secret"
TOK2="tok2-$$-secret"
SECRETS="$SSN1 $SSN2 $SSN3 $SSN4 $PW $TOK $TOK2"
ensure_journald
pg_start
PGPASSWORD="$PGSUPER_PW" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" -U postgres \
	-d orders >/dev/null <<EOF || fail "fixtures"
CREATE TABLE users (id int primary key, name text, ssn text);
INSERT INTO users VALUES (1, 'alice', '$SSN1'), (2, 'bob', '$SSN2'), (3, 'carol', '$SSN3');
ALTER TABLE users OWNER TO app;
EOF

LPORT=$(free_port)
mk_cgroup "/$TAG"
mk_cgroup "/$TAG/plain"
write_pg_policy "$WORK/policy.json" "$LPORT"
# Identity "plain" (cgroup /$TAG/plain) has a rule that masks nothing.
python3 - "$WORK/policy.json" "/$TAG/plain" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["agent"].update(record_flush_ms=100, record_rows=2)
p["rules"][0]["deny"] = ["drop"]
p["rules"][0]["mask"] = [{"column": "ssn"}]
p["identities"].insert(0, {"name": "plain", "match": {"cgroup": sys.argv[2]}, "roles": ["p"]})
p["rules"].append(dict(p["rules"][0], roles=["p"], deny=[], mask=[]))
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF
start_agent "$WORK/policy.json"

# --------------------------------------------------------------- a session
job_psql -c "select id, name, ssn from users order by id" >/dev/null || fail "select"
job_psql -c "select name from users where ssn = '$SSN1'" >/dev/null || fail "select by ssn"
out=$(job_psql -c "drop table users" 2>&1) && fail "drop was not refused"
raw() { # CGROUP STEP...
	cg=$1
	shift
	out=$(in_cgroup "$cg" python3 tests/helpers/pg_raw.py 127.0.0.2 "$PGPORT" "$@" 2>&1) ||
		fail "pg_raw: $out"
	echo "$out"
}
raw "/$TAG" "P::select name from users where ssn = \$1" "B:::$SSN2" "E:" S >/dev/null
raw "/$TAG" "P::select name from users where id = \$1" "B:::2" "E:" S | grep -qx "ROW bob" ||
	fail "extended select by id"
# Literals that are secrets whatever the masks say, and an upsert that
# stores into the masked column.
job_psql -c "select set_config('app.token', '$TOK', false) is not null" \
	-c "insert into users (id, name) values (1, 'a') on conflict (id) do update set ssn = '$SSN4'" \
	>/dev/null || fail "set_config and upsert"
job_psql -c "create role r_$$ login password '$PW'" >/dev/null 2>&1
# Where nothing is masked, a plain read keeps its parameters; a function
# call does not. (Rows are recorded as the job gets them: only masks hide
# a value there, so this one does not return its secret.)
raw "/$TAG/plain" "P::select name from users where id = \$1" "B:::2" "E:" S | grep -qx "ROW bob" ||
	fail "extended select as plain"
raw "/$TAG/plain" "P::select set_config(\$1, \$2, false) is not null" "B:::app.token:$TOK2" "E:" S >/dev/null
# A statement whose event would outgrow a chunk: cut, and what follows is
# still recorded.
# (psql sends statements joined by \\; as one Query.)
python3 -c "print('update users set name = name where id = 0 ' + ''.join(' \\\\; select 1 from ' + ', '.join('t%d' % i for i in range(64)) for _ in range(3000)))" > "$WORK/big.sql"
job_psql -f "$WORK/big.sql" >/dev/null 2>&1
job_psql -c "select 'after the big one' as marker" >/dev/null || fail "session after the big one"

R=$WORK/state/recordings
wait_recorded '"ev":"session_end"' || fail "no session ended in a recording"
# Every session's recording is written at its end; eleven sessions ran.
n=50
while [ "$(recordings | grep -c '"ev":"session_end"')" -lt 11 ] && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
recordings > "$WORK/all.jsonl"
[ "$(grep -c '"ev":"session_end"' "$WORK/all.jsonl")" -eq 11 ] || fail "not eleven sessions recorded"

# Folders 0700, files 0600, the key 0600.
[ "$(stat -c %a "$R")" = 700 ] || fail "recordings folder mode $(stat -c %a "$R")"
for d in "$R"/*/; do [ "$(stat -c %a "$d")" = 700 ] || fail "day folder mode"; done
for f in "$R"/*/*.slrec; do [ "$(stat -c %a "$f")" = 600 ] || fail "recording mode"; done
[ "$(stat -c %a "$WORK/state/recording.key")" = 600 ] || fail "recording key mode"

# What the recordings hold.
grep -q '"ev":"session_start",.*"protocol":"postgres","target":"orders-db","identity":"job",.*"facts":{"cgroup":"/'"$TAG"'",.*"exe":"[^"]*psql"' \
	"$WORK/all.jsonl" || fail "no session start with the identity facts"
grep -q '"ev":"login",.*"user":"whoever","database":"orders","upstream_user":"app",.*"client_tls":"TLSv1.3","upstream_tls":"none"' \
	"$WORK/all.jsonl" || fail "no login event with the TLS state"
grep -q '"path":"query","decision":"allow","rule":0,"class":"read","kind":"select","text":"select id, name, ssn from users order by id","tables":\["users"\]' \
	"$WORK/all.jsonl" || fail "no allowed select: $(grep '"ev":"statement"' "$WORK/all.jsonl")"
grep -q '"ev":"columns",.*"names":\["id","name","ssn"\]' "$WORK/all.jsonl" || fail "no columns"
grep -q '"ev":"row",.*"values":\["1","alice","\*\*\*"\]' "$WORK/all.jsonl" || fail "no masked row"
grep -q '"values":\["3","carol"' "$WORK/all.jsonl" && fail "record_rows 2 was not kept"
grep -q '"ev":"result",.*"tag":"SELECT 3","rows":3,"rows_left_out":1,"us":[0-9]' "$WORK/all.jsonl" ||
	fail "no result with the rows left out"
grep -q '"text":"select name from users where ssn = \$1"' "$WORK/all.jsonl" ||
	fail "a literal was not replaced"
grep -q '"text":"select set_config(\$1, \$2, false) is not null"' "$WORK/all.jsonl" ||
	fail "set_config's literals were not replaced"
grep -q '"text":"create role r_[0-9]* login password \$1"' "$WORK/all.jsonl" ||
	fail "a password literal was not replaced"
grep -q '"decision":"deny","rule":0,"class":"ddl","kind":"drop","reason":".*","text":"drop table users"' \
	"$WORK/all.jsonl" || fail "no denied drop: $(grep drop "$WORK/all.jsonl")"
grep -q '"error":{"sqlstate":"42501"' "$WORK/all.jsonl" || fail "no refusal result"
[ "$(grep -c '"path":"extended",.*"text":"select name from users where [a-z]* = \$1","params_masked":true' "$WORK/all.jsonl")" -eq 2 ] ||
	fail "parameters were recorded in a session that masks"
grep -q '"text":"select name from users where id = \$1","params":\["2"\]' "$WORK/all.jsonl" ||
	fail "no extended statement with its parameter where nothing is masked"
grep -q '"text":"select set_config(\$1, \$2, false) is not null","params_masked":true' "$WORK/all.jsonl" ||
	fail "parameters of a function call were recorded"
grep -q '"ev":"statement",.*"items_left_out":[1-9]' "$WORK/all.jsonl" ||
	fail "the oversized statement event was not cut"
grep -q '"text":"select \$1 as marker"' "$WORK/all.jsonl" ||
	fail "the session after the big one was not recorded"
# No masked value anywhere: not in the decompressed recordings, not in the
# raw files, not in journald.
for v in $SECRETS; do
	grep -q -- "$v" "$WORK/all.jsonl" && fail "secret $v in a recording: $(grep -- "$v" "$WORK/all.jsonl" | cut -c1-300)"
	grep -rqa -- "$v" "$R" && fail "secret $v in the recordings folder"
done

# ----------------------------------------------------------- sluice-replay
RP="$REPLAY --dir $R --key $WORK/state/recording.key"
# The id of the recording whose content matches PATTERN.
recording_with() {
	for f in "$R"/*/*.slrec; do
		python3 tests/helpers/slrec_dump.py "$f" | grep -q -- "$1" && basename "$f" .slrec
	done | head -n 1
}
id=$(recording_with '"text":"drop table users"')
[ -n "$id" ] || fail "no recording of the drop"
$RP verify --all > "$WORK/verify.out" || fail "verify --all: $(cat "$WORK/verify.out")"
[ "$(grep -c ': sealed' "$WORK/verify.out")" -eq 11 ] || fail "not eleven sealed: $(cat "$WORK/verify.out")"
$RP list > "$WORK/list.out" || fail "list"
[ "$(grep -c "orders-db" "$WORK/list.out")" -eq 11 ] || fail "list: $(cat "$WORK/list.out")"
$RP list --decision deny > "$WORK/list.deny" || fail "list --decision"
[ "$(grep -c "orders-db" "$WORK/list.deny")" -eq 1 ] && grep -q "$id" "$WORK/list.deny" ||
	fail "list --decision deny: $(cat "$WORK/list.deny")"
$RP show "$id" > "$WORK/show.out" || fail "show"
grep -q "drop table users" "$WORK/show.out" && grep -qi "deny" "$WORK/show.out" ||
	fail "show lacks the refusal: $(cat "$WORK/show.out")"
sel=$(recording_with '"text":"select id, name, ssn')
$RP show "$sel" > "$WORK/show.sel" || fail "show select"
grep -q '\*\*\*' "$WORK/show.sel" && grep -q alice "$WORK/show.sel" || fail "show lacks the masked rows"
$RP export "$sel" --format json > "$WORK/export.jsonl" || fail "export json"
python3 - "$WORK/export.jsonl" <<'EOF' || fail "export json is not what was recorded"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
kinds = [e["ev"] for e in events]
assert kinds[0] == "session_start" and kinds[-1] == "session_end", kinds
rows = [e["values"] for e in events if e["ev"] == "row"]
assert rows == [["1", "alice", "***"], ["2", "bob", "***"]], rows
assert any(e["ev"] == "statement" and e["decision"] == "allow" for e in events)
EOF
$RP export "$sel" --format asciicast > "$WORK/cast" || fail "export asciicast"
# asciinema reads keys from /dev/tty: script(1) gives it a terminal.
script -qec "asciinema cat '$WORK/cast'" /dev/null < /dev/null > "$WORK/cast.out" 2>&1 ||
	fail "asciinema rejects the export: $(head -5 "$WORK/cast.out")"
grep -q "select id, name, ssn from users" "$WORK/cast.out" || fail "the cast lacks the statement"
for v in $SECRETS; do
	grep -q -- "$v" "$WORK/show.out" "$WORK/show.sel" "$WORK/export.jsonl" "$WORK/cast.out" &&
		fail "secret $v in replay output"
done

# ------------------------------------------------------------------ journald
# A recording's file is named by its session id.
session=$sel
dsession=$id
n=40
while ! journalctl --no-pager -q -o cat SLUICE_SESSION="$dsession" SLUICE_EVENT=statement | grep -q . &&
	[ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
journalctl --no-pager -q -o json SLUICE_SESSION="$session" SLUICE_EVENT=statement > "$WORK/j.sel"
journalctl --no-pager -q -o json SLUICE_SESSION="$dsession" SLUICE_EVENT=statement > "$WORK/j.drop"
python3 - "$WORK/j.sel" "$WORK/j.drop" "$TAG" <<'EOF' || fail "journald statement entries"
import json, sys
sel = [json.loads(l) for l in open(sys.argv[1])]
drop = [json.loads(l) for l in open(sys.argv[2])]
assert len(sel) == 1 and len(drop) == 1, (len(sel), len(drop))
a, d = sel[0], drop[0]
for e in (a, d):
    assert e["SLUICE_IDENTITY"] == "job" and e["SLUICE_TARGET"] == "orders-db", e
    assert e["SLUICE_CGROUP"] == "/" + sys.argv[3], e
    assert e["MESSAGE_ID"] == "8d3e3db85b5b40859389894d39a54717", e
assert a["SLUICE_DECISION"] == "allow" and a["PRIORITY"] == "6" and a["SLUICE_RULE"] == "0", a
assert a["SLUICE_CLASS"] == "read" and a["SLUICE_KIND"] == "select", a
assert a["SLUICE_TABLES"] == "users" and "SLUICE_STATEMENT" not in a, a
assert d["SLUICE_DECISION"] == "deny" and d["PRIORITY"] == "4" and d["SLUICE_RULE"] == "0", d
assert d["SLUICE_STATEMENT"] == "drop table users", d
EOF
for v in $SECRETS; do
	journalctl --no-pager -q -o export SLUICE_TARGET=orders-db | grep -qa -- "$v" &&
		fail "secret $v in journald"
	grep -q -- "$v" "$AGENT_LOG" && fail "secret $v in the agent's log"
done

# ------------------------------------------------------ kill -9 mid-session
live_psql "/$TAG" "$WORK/psql.out" -q
echo "select 'before the kill' as marker;" >&7
wait_for "$WORK/psql.out" "before the kill" || fail "the long session did not answer"
wait_recorded "before the kill" || fail "not flushed within the flush interval"
kill9_agent
exec 7>&-
live=$(recording_with "before the kill")
[ -n "$live" ] || fail "no recording of the killed session"
out=$($RP verify "$live") || fail "verify of the killed session's recording failed: $out"
case "$out" in *unsealed*) ;; *) fail "not reported unsealed: $out" ;; esac
$RP show "$live" | grep -q "before the kill" || fail "show of the unsealed recording"
# Tampering is found (the forms of it are tests of sluice-replay and
# test_recording); here: one byte of a real recording.
cp -r "$R" "$WORK/copy"
f=$(ls "$WORK/copy"/*/"$sel".slrec)
printf 'X' | dd of="$f" bs=1 seek=200 conv=notrunc 2>/dev/null
out=$($REPLAY --dir "$WORK/copy" --key "$WORK/state/recording.key" verify "$sel") &&
	fail "a changed byte was not found: $out"
case "$out" in *"BAD at offset"*) ;; *) fail "no offset for the changed byte: $out" ;; esac
exit 0
