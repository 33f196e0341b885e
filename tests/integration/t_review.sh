# The access review (sluicectl review) over recordings the agent made here
# and the refusals journald holds: per identity what it reached and used,
# the grants it never used, an identity never seen, a job that matches no
# identity, and an old credential; in JSON, markdown and a table.
. tests/lib.sh

CTL="$BUILD/sluicectl --config $WORK/policy.json"
ensure_journald
pg_start
SPORT=$(free_port)
start_server 127.0.0.2 "$SPORT"
LPORT=$(free_port)
for cg in "" /r /w /x; do mk_cgroup "/$TAG$cg"; done
write_pg_policy "$WORK/policy.json" "$LPORT"
python3 - "$WORK/policy.json" "/$TAG" "$SPORT" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
tag, sport = sys.argv[2], sys.argv[3]
p["targets"].append({"name": "echo", "protocol": "tcp", "address": "127.0.0.2:" + sport})
p["identities"] = [
    {"name": "reader", "match": {"cgroup": tag + "/r"}, "roles": ["r"]},
    {"name": "writer", "match": {"cgroup": tag + "/w"}, "roles": ["w"]},
    {"name": "ghost", "match": {"cgroup": tag + "/ghost"}, "roles": ["g"]},
]
p["rules"] = [
    {"target": "orders-db", "roles": ["r"], "allow": ["read", "write"]},
    {"target": "orders-db", "roles": ["w"], "allow": ["read", "insert", "update", "session"],
     "approve": ["delete", "truncate"]},
    {"target": "orders-db", "roles": ["g"], "allow": ["read"]},
    {"target": "echo", "roles": ["w"], "allow": ["connect"]},
]
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF
start_agent "$WORK/policy.json"
pg_super -d orders -c "create table orders (id int, note text); alter table orders owner to app" \
	>/dev/null || fail "fixtures"
psql_in() { # CG SQL
	in_cgroup "/$TAG$1" env PGPASSWORD=x psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" \
		-U x -d orders -c "$2"
}
psql_in /r "select count(*) from orders" >/dev/null || fail "reader"
psql_in /w "insert into orders values (1, 'a')" || fail "writer insert"
psql_in /w "select * from orders" >/dev/null || fail "writer select"
psql_in /w "drop table orders" 2>/dev/null && fail "writer's drop was allowed"
in_cgroup "/$TAG/w" "$TESTNET" probe 127.0.0.2 "$SPORT" >/dev/null || fail "writer's echo"
# A DELETE held for approval and approved by root (the job runs as nobody:
# its own uid could not approve).
in_cgroup "/$TAG/w" runuser -u nobody -- env PGPASSWORD=x psql -X -q -h 127.0.0.2 -p "$PGPORT" -U x \
	-d orders -c "delete from orders where id = 1" > "$WORK/del.out" 2>&1 &
DEL=$!
PIDS="$DEL $PIDS"
n=100
APPROVAL=""
while [ -z "$APPROVAL" ] && [ $n -gt 0 ]; do
	APPROVAL=$($BUILD/sluicectl --socket "$WORK/control.sock" --json approvals |
		python3 -c 'import json,sys; a=json.load(sys.stdin)["approvals"]; print(a[0]["id"] if a else "")')
	[ -n "$APPROVAL" ] || sleep 0.1
	n=$((n - 1))
done
[ -n "$APPROVAL" ] || fail "the delete did not ask for approval: $(cat "$WORK/del.out")"
$BUILD/sluicectl --socket "$WORK/control.sock" approve "$APPROVAL" >/dev/null || fail "approve"
wait "$DEL" || fail "the approved delete: $(cat "$WORK/del.out")"
psql_in /x "select 1" 2>/dev/null && fail "a job with no identity was let through"
wait_for "$AGENT_LOG" "SLUICE_CGROUP=/$TAG/x .*SLUICE_REASON=caller matches no identity" ||
	fail "no refusal of /x"
touch -d "200 days ago" "$WORK/app.pw"
stop_agent
n=40
while [ -z "$(journalctl --no-pager -q -o cat SLUICE_EVENT=session_refused SLUICE_CGROUP="/$TAG/x")" ] &&
	[ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done

$CTL review --format json > "$WORK/review.json" || fail "review --format json"
python3 - "$WORK/review.json" "/$TAG" <<'EOF' || fail "the review in JSON: $(head -c 3000 "$WORK/review.json")"
import json, sys
r = json.load(open(sys.argv[1]))
tag = sys.argv[2]
ids = {i["name"]: i for i in r["identities"]}
assert r["recordings"]["read"] >= 5 and r["recordings"]["unverified"] == 0, r["recordings"]

reader = ids["reader"]
assert reader["sessions"] == 1, reader
[t] = reader["targets"]
assert t["name"] == "orders-db" and t["classes"] == {"read": 1} and t["tables"] == {"orders": 1}, t
[g] = reader["grants"]
assert g["rule"] == 0 and g["allow_unused"] == ["write"], g
assert reader["subjects"] == [dict(kind="cgroup", value=tag + "/r", sessions=1,
                                   first_seen=reader["first_seen"], last_seen=reader["last_seen"])], reader

writer = ids["writer"]
assert writer["sessions"] == 5, writer          # 4 psql, 1 echo
d = writer["decisions"]
assert d["deny"] == 1 and d["allow"] >= 2 and d["approve"] == 1 and d["approved"] == 1, d
grants = {g["rule"]: g for g in writer["grants"]}
assert grants[1]["allow_unused"] == ["update", "session"], grants[1]
assert grants[1]["approve_unused"] == ["truncate"], grants[1]
assert grants[3]["allow_unused"] == [] and grants[3]["used"], grants[3]
db = [t for t in writer["targets"] if t["name"] == "orders-db"][0]
assert db["kinds"].get("insert") == 1 and db["kinds"].get("delete") == 1, db
assert "drop" not in db["kinds"], db

ghost = ids["ghost"]
assert ghost["sessions"] == 0 and "first_seen" not in ghost, ghost

texts = [s["text"] for s in r["suggestions"]]
def has(kind, *words):
    assert any(s["kind"] == kind and all(w in s["text"] for w in words) for s in r["suggestions"]), \
        (kind, words, texts)
has("unused_rule", "rule 2 ")
has("unused_grant", "rule 0:", '"write" in allow')
has("unused_grant", "rule 1:", '"update" in allow')
has("unused_grant", "rule 1:", '"truncate" in approve')
assert not any('"delete" in approve' in t for t in texts), texts
has("unseen_identity", "identity ghost")
has("unknown_caller", tag + "/x", "orders-db")
has("credential", "unchanged for 200 days")
assert not any("rule 3" in t for t in texts), texts   # echo's connect was used
assert not any('"read" in allow' in t and "rule 0" in t for t in texts), texts

[c] = r["credentials"]
assert c["target"] == "orders-db" and c["mode"] == "0600" and c["age_days"] == 200, c
assert sorted(c["identities"]) == ["ghost", "reader", "writer"], c
[u] = [u for u in r["unknown_callers"] if u["cgroup"] == tag + "/x"]
assert u["target"] == "orders-db" and u["refused"] == 1, u
EOF

$CTL review --format markdown > "$WORK/review.md" || fail "review --format markdown"
for want in "^# Access review" "^## Identity reader" "^| rule | target | allow | unused |" \
	"^| 0 | orders-db | read write | write |" "^## Suggestions" "^## Stored credentials"; do
	grep -q -- "$want" "$WORK/review.md" || fail "markdown lacks $want: $(cat "$WORK/review.md")"
done
$CTL review > "$WORK/review.txt" || fail "review"
grep -q "^IDENTITY writer" "$WORK/review.txt" || fail "table: $(cat "$WORK/review.txt")"
grep -q "rule 1 on orders-db: allow read insert update session (unused: update session)" "$WORK/review.txt" ||
	fail "table grants: $(cat "$WORK/review.txt")"

# A recording that does not verify is counted, not used.
rec=$(ls "$WORK"/state/recordings/*/*.slrec | head -n 1)
python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0xff
open(sys.argv[1], "wb").write(b)' "$rec"
$CTL review --no-journal --format json > "$WORK/bad.json" || fail "review with a bad recording"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["recordings"]
assert r["unverified"] == 1 and r["read"] >= 5, r' "$WORK/bad.json" || fail "the bad recording: $(head -c 400 "$WORK/bad.json")"

# Only the period: recordings of a day long past are not read.
for d in "$WORK"/state/recordings/*; do mv "$d" "$WORK/state/recordings/2000-01-01"; done
$CTL review --no-journal --format json > "$WORK/old.json" || fail "review of an empty period"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["recordings"]["read"] == 0 and r["unknown_callers"] == [], r
assert all(i["sessions"] == 0 for i in r["identities"]), r["identities"]' "$WORK/old.json" ||
	fail "recordings outside the period were read"
$CTL review --key /dev/null 2>/dev/null && fail "a key that is not one was accepted"
$CTL review --since 0 2>/dev/null && fail "--since 0 was accepted"
exit 0
