# SQL rules on a real PostgreSQL: every class, kind and guard flag, allowed
# and denied, alone, inside a transaction and inside a multi-statement
# string, through the simple and the extended protocol; approval and
# default denials; no false positives from words in strings, identifiers
# and comments; unparseable SQL; settings the parser cannot follow; the
# fast-path function call; what journald gets.
#
# One agent, one policy: identity "open" (cgroup /$TAG-open) may do
# everything; for each word W, identity wN (cgroup /$TAG-wN) may do
# everything but W, which rule N denies. "reader" has a rule of its own.
. tests/lib.sh

PGQ=$BUILD/tests/sluice-pgq
ensure_journald
pg_start
LPORT=$(free_port)

# word|setup statements (;; between them)|statement|1 if "open" must get OK
CASES="read||SELECT count(*) FROM t1|1
write||INSERT INTO t1 VALUES (100)|1
ddl||CREATE TABLE IF NOT EXISTS d1 (a int)|1
dcl||GRANT SELECT ON t1 TO PUBLIC|1
session||SET work_mem = '8MB'|1
copy_in||COPY t1 FROM STDIN|1
copy_out||COPY t1 TO STDOUT|1
procedural||DO \$\$BEGIN END\$\$|1
admin||ANALYZE t1|1
select||SELECT 1|1
insert||INSERT INTO t1 VALUES (1)|1
update||UPDATE t1 SET a = a WHERE a = 1|1
delete||DELETE FROM t1 WHERE a = 12345|1
merge||MERGE INTO t1 USING (SELECT 1 AS a) s ON t1.a = s.a WHEN MATCHED THEN DO NOTHING|1
truncate||TRUNCATE d2|1
copy||COPY t1 TO STDOUT|1
create||CREATE TABLE IF NOT EXISTS d1 (a int)|1
alter||ALTER TABLE t1 ALTER COLUMN a SET DEFAULT 0|1
drop||DROP TABLE IF EXISTS nothing_here|1
comment||COMMENT ON TABLE t1 IS 'x'|1
security_label||SECURITY LABEL ON TABLE t1 IS 'x'|0
grant||GRANT SELECT ON t1 TO PUBLIC|1
revoke||REVOKE SELECT ON t1 FROM PUBLIC|1
reassign||REASSIGN OWNED BY nobody_r TO app|1
refresh||REFRESH MATERIALIZED VIEW mv|1
import||IMPORT FOREIGN SCHEMA s FROM SERVER no_server INTO public|0
set||SET work_mem = '8MB'|1
reset||RESET work_mem|1
show||SHOW work_mem|1
discard||DISCARD PLANS|1
transaction||COMMIT|1
prepare||PREPARE p1 AS SELECT 1|1
execute|PREPARE p1 AS SELECT 1|EXECUTE p1|1
deallocate||DEALLOCATE ALL|1
declare|BEGIN|DECLARE c1 CURSOR FOR SELECT 1|1
fetch|BEGIN;;DECLARE c1 CURSOR FOR SELECT 1|FETCH c1|1
move|BEGIN;;DECLARE c1 CURSOR FOR SELECT 1|MOVE c1|1
close||CLOSE ALL|1
explain||EXPLAIN SELECT 1|1
call||CALL pr()|1
do||DO \$\$BEGIN END\$\$|1
listen||LISTEN ch|1
unlisten||UNLISTEN ch|1
notify||NOTIFY ch|1
lock|BEGIN|LOCK TABLE t1 IN ACCESS SHARE MODE|1
vacuum||VACUUM t1|1
analyze||ANALYZE t1|1
cluster||CLUSTER t1|1
reindex||REINDEX TABLE t1|1
checkpoint||CHECKPOINT|1
load||LOAD 'plpgsql'|1
delete_without_where||DELETE FROM d3|1
update_without_where||UPDATE t1 SET a = a|1"
NWORDS=$(printf '%s\n' "$CASES" | wc -l)

# The job's objects. app is a superuser here so that every statement can
# succeed once sluice lets it through: what is refused is refused by us.
PGPASSWORD="$PGSUPER_PW" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" -U postgres \
	-d orders >/dev/null <<'EOF' || fail "fixtures"
ALTER ROLE app SUPERUSER;
CREATE ROLE nobody_r;
CREATE TABLE t1 (a int); INSERT INTO t1 SELECT generate_series(1, 10);
CREATE INDEX t1_a ON t1 (a); ALTER TABLE t1 CLUSTER ON t1_a;
CREATE TABLE d2 (a int); CREATE TABLE d3 (a int);
CREATE TABLE marks (w text);
CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one;
CREATE PROCEDURE pr() LANGUAGE sql AS $$ SELECT 1 $$;
ALTER TABLE t1 OWNER TO app; ALTER TABLE d2 OWNER TO app; ALTER TABLE d3 OWNER TO app;
ALTER TABLE marks OWNER TO app; ALTER MATERIALIZED VIEW mv OWNER TO app;
EOF
marks() { # WORD: how many marks WORD left
	PGPASSWORD="$PGSUPER_PW" psql -X -qtA -h 127.0.0.2 -p "$PGPORT" -U postgres -d orders \
		-c "SELECT count(*) FROM marks WHERE w = '$1'"
}

# The policy: rule 0 for "open", rule N for word N, rule NWORDS+1 for "reader".
ALL='"read", "write", "ddl", "dcl", "session", "copy_in", "copy_out", "procedural", "admin"'
READER_RULE=$((NWORDS + 1))
{
	printf '{ "agent": { "listen": "127.0.0.1:%s", "listen6": "[::1]:%s",\n' "$LPORT" "$LPORT"
	printf '    "bpffs": "%s", "state_dir": "%s/state", "control_socket": "%s/control.sock",\n' "$BPFFS" "$WORK" "$WORK"
	printf '    "select": { "cgroups": ["/%s-open", "/%s-reader"' "$TAG" "$TAG"
	i=1; while [ $i -le "$NWORDS" ]; do printf ', "/%s-w%d"' "$TAG" $i; i=$((i + 1)); done
	printf '] } },\n  "identities": [\n'
	printf '    { "name": "open", "match": { "cgroup": "/%s-open" }, "roles": ["open"] },\n' "$TAG"
	printf '    { "name": "reader", "match": { "cgroup": "/%s-reader" }, "roles": ["reader"] }' "$TAG"
	i=1; while [ $i -le "$NWORDS" ]; do
		printf ',\n    { "name": "w%d", "match": { "cgroup": "/%s-w%d" }, "roles": ["w%d"] }' $i "$TAG" $i $i
		i=$((i + 1))
	done
	printf '\n  ],\n  "targets": [ { "name": "orders-db", "protocol": "postgres",\n'
	printf '    "address": "127.0.0.2:%s",\n' "$PGPORT"
	printf '    "credentials": { "user": "app", "password_file": "%s/app.pw" } } ],\n' "$WORK"
	printf '  "rules": [\n    { "target": "orders-db", "roles": ["open"], "allow": [%s] }' "$ALL"
	i=1
	printf '%s\n' "$CASES" | while IFS='|' read -r word setup sql ok; do
		printf ',\n    { "target": "orders-db", "roles": ["w%d"], "allow": [%s], "deny": ["%s"] }' \
			$i "$ALL" "$word"
		i=$((i + 1))
	done
	printf ',\n    { "target": "orders-db", "roles": ["reader"], "allow": ["read", "write", "session"],\n'
	printf '      "approve": ["delete"], "deny": ["ddl"], "timeout": "1s" }\n  ]\n}\n'
} > "$WORK/policy.json"
mk_cgroup "/$TAG-open"
mk_cgroup "/$TAG-reader"
i=1; while [ $i -le "$NWORDS" ]; do mk_cgroup "/$TAG-w$i"; i=$((i + 1)); done
start_agent "$WORK/policy.json"

pgq() { # CGROUP-SUFFIX PGQ-ARGS...
	who=$1
	shift
	in_cgroup "/$TAG-$who" env PGHOST=127.0.0.2 PGPORT="$PGPORT" PGUSER=whoever \
		PGPASSWORD=not-the-password PGDATABASE=orders PGCONNECT_TIMEOUT=10 "$PGQ" "$@" \
		2>&1
}

split_setup() { # "a;;b" -> one argument per statement, in $@ of the caller via eval
	printf '%s' "$1" | awk 'BEGIN { RS = ";;" } NF { printf "%s\n", $0 }'
}

denied_by() { # OUTPUT RULE WORD: OUTPUT's refusal names RULE and WORD
	printf '%s\n' "$1" | grep -q "^ERROR 42501 sluice: .*denied by policy rule $2 (deny \"$3\")"
}

i=1
printf '%s\n' "$CASES" > "$WORK/cases"
while IFS='|' read -r word setup sql ok; do
	# Setup statements become arguments before the statement.
	set --
	if [ -n "$setup" ]; then
		while IFS= read -r s; do set -- "$@" "$s"; done <<EOF
$(split_setup "$setup")
EOF
	fi
	for mode in simple extended; do
		# Alone.
		out=$(pgq "w$i" -m $mode "$@" "$sql") || fail "$word: pgq failed: $out"
		denied_by "$(printf '%s\n' "$out" | tail -n 1)" $i "$word" ||
			fail "$word ($mode): not denied by rule $i: $out"
		out=$(pgq open -m $mode "$@" "$sql") || fail "$word: pgq failed: $out"
		printf '%s\n' "$out" | grep -q "sluice:" && fail "$word ($mode): open was refused: $out"
		if [ "$ok" = 1 ]; then
			printf '%s\n' "$out" | tail -n 1 | grep -q '^OK' ||
				fail "$word ($mode): open did not succeed: $out"
		fi
		# Inside a transaction: refused, the transaction is aborted as by
		# any error, and the session goes on after ROLLBACK. (Who may not
		# run transaction control cannot open a transaction at all.)
		case $word in
		session|transaction) continue ;;
		read|select) probe="SHOW work_mem" row="ROW 4MB" ;;
		*) probe="SELECT 2" row="ROW 2" ;;
		esac
		out=$(pgq "w$i" -t -m $mode BEGIN "$@" "$sql" "$probe" ROLLBACK "$probe") ||
			fail "$word: pgq failed: $out"
		printf '%s\n' "$out" | grep -A1 "^ERROR 42501 sluice: .*rule $i " | grep -qx "TX E" ||
			fail "$word ($mode, in a transaction): not refused with the transaction aborted: $out"
		printf '%s\n' "$out" | grep -q "^ERROR 25P02" ||
			fail "$word ($mode, in a transaction): the next statement was not refused by the server: $out"
		printf '%s\n' "$out" | tail -n 3 | grep -qx "$row" ||
			fail "$word ($mode, in a transaction): the session did not go on: $out"
		out=$(pgq open -t -m $mode BEGIN "$@" "$sql" "$probe" ROLLBACK) ||
			fail "$word: pgq failed: $out"
		printf '%s\n' "$out" | grep -q "sluice:" &&
			fail "$word ($mode, in a transaction): open was refused: $out"
	done
	# A multi-statement string: nothing of it runs.
	multi="INSERT INTO marks VALUES ('w$i'); $(printf '%s' "$setup" | sed 's/;;/; /g')${setup:+; }$sql"
	out=$(pgq "w$i" "$multi")
	denied_by "$out" $i "$word" || fail "$word (multi-statement): not denied: $out"
	case "$out" in *"(statement "*) ;; *) fail "$word (multi-statement): no statement number: $out" ;; esac
	[ "$(marks "w$i")" = 0 ] || fail "$word (multi-statement): part of a refused string ran"
	multi="INSERT INTO marks VALUES ('o$i'); $(printf '%s' "$setup" | sed 's/;;/; /g')${setup:+; }$sql"
	case $setup in BEGIN*) multi="$multi; COMMIT" ;; esac
	out=$(pgq open "$multi")
	printf '%s\n' "$out" | grep -q "sluice:" && fail "$word (multi-statement): open was refused: $out"
	# (VACUUM and CLUSTER refuse to run inside a multi-statement string.)
	if [ "$ok" = 1 ] && [ "$word" != vacuum ] && [ "$word" != cluster ]; then
		[ "$(marks "o$i")" = 1 ] || fail "$word (multi-statement): open's string did not run: $out"
	fi
	i=$((i + 1))
done < "$WORK/cases"

# A prepared statement (Parse once, Execute later): refused at Execute.
out=$(pgq w13 -m prepared "DELETE FROM t1 WHERE a = 12345")
denied_by "$out" 13 delete || fail "prepared DELETE not refused at Execute: $out"

# reader: approval (nobody decides: denied after the rule's timeout; see
# t_approvals for the rest), rule denials, default denials.
out=$(pgq reader "INSERT INTO t1 VALUES (5)" "DELETE FROM t1 WHERE a = 5" \
	"CREATE TABLE x (a int)" "GRANT SELECT ON t1 TO PUBLIC" "EXECUTE never_prepared")
# (The notice that the DELETE waits comes first; t_approvals reads it.)
printf '%s\n' "$out" | grep -q '^NOTICE 00000 sluice: this delete needs approval' ||
	fail "no notice that the DELETE waits: $out"
out=$(printf '%s\n' "$out" | grep -v '^NOTICE')
printf '%s\n' "$out" | sed -n 1p | grep -q '^OK INSERT' || fail "reader INSERT: $out"
printf '%s\n' "$out" | sed -n 2p |
	grep -q "^ERROR 42501 sluice: delete not approved (approval [0-9a-f]*): no decision within 1 second$" ||
	fail "reader DELETE not held for approval (and denied when nobody decides): $out"
printf '%s\n' "$out" | sed -n 3p | grep -q "denied by policy rule $READER_RULE (deny \"ddl\")" ||
	fail "reader CREATE not denied by its rule: $out"
printf '%s\n' "$out" | sed -n 4p |
	grep -q "^ERROR 42501 sluice: grant denied: no rule allows class \"dcl\" to identity \"reader\"" ||
	fail "reader GRANT not denied by default: $out"
printf '%s\n' "$out" | sed -n 5p | grep -q '^ERROR 42501 sluice: EXECUTE of "never_prepared", which was not prepared' ||
	fail "EXECUTE of an unknown prepared statement not refused: $out"

# No false positives: forbidden words in strings, identifiers, comments.
out=$(pgq reader "SELECT 'DROP TABLE t1; DELETE FROM t1' AS \"drop\", \$\$TRUNCATE t1\$\$ AS \"delete\" /* DROP TABLE t1 */ -- CREATE TABLE x
" "SELECT count(*) FROM t1 AS \"grant\" WHERE 'x' <> 'GRANT ALL ON t1 TO PUBLIC'")
[ "$(printf '%s\n' "$out" | grep -c '^OK SELECT')" = 2 ] || fail "false positive: $out"

# Unparseable SQL is refused with the parser's own syntax error.
out=$(pgq reader "SELEC 1" "SELECT 1")
printf '%s\n' "$out" | sed -n 1p | grep -q '^ERROR 42601 syntax error at or near "SELEC"' ||
	fail "unparseable SQL: $out"
printf '%s\n' "$out" | tail -n 1 | grep -q '^OK' || fail "session lost after a syntax error: $out"

# A setting the classifier cannot follow stops every statement after it.
out=$(pgq open "SET standard_conforming_strings = off" "SELECT 'a\\' OR 1=1 --'" "SELECT 1")
printf '%s\n' "$out" | sed -n 1p | grep -q '^OK SET' || fail "open could not SET: $out"
[ "$(printf '%s\n' "$out" | grep -c 'sluice: statements are refused while the session has standard_conforming_strings = off')" = 2 ] ||
	fail "statements ran under standard_conforming_strings = off: $out"

# The fast-path function call (psql's \lo_import uses it) is class admin.
echo hello > "$WORK/lo.txt"
out=$(in_cgroup "/$TAG-reader" env PGPASSWORD=x psql -X -h 127.0.0.2 -p "$PGPORT" -U x -d orders \
	-c "\\lo_import $WORK/lo.txt" 2>&1) && fail "reader's lo_import passed: $out"
case "$out" in *"sluice: function call denied"*) ;; *) fail "lo_import refusal: $out" ;; esac
out=$(in_cgroup "/$TAG-open" env PGPASSWORD=x psql -X -h 127.0.0.2 -p "$PGPORT" -U x -d orders \
	-c "\\lo_import $WORK/lo.txt" 2>&1) || fail "open's lo_import failed: $out"

# journald: the refusal with its rule; constants are not logged.
out=$(pgq w1 "SELECT 'sekrit-$$' FROM t1")
denied_by "$out" 1 read || fail "w1 read not denied: $out"
n=40
while ! journalctl --no-pager -q -o export SLUICE_IDENTITY=w1 SLUICE_DECISION=deny > "$WORK/journal" ||
	! grep -q "SLUICE_STATEMENT=SELECT \$1 FROM t1" "$WORK/journal"; do
	n=$((n - 1))
	[ $n -gt 0 ] || fail "no refusal in journald: $(tail -n 20 "$WORK/journal")"
	sleep 0.1
done
grep -qx "SLUICE_RULE=1" "$WORK/journal" || fail "journal lacks SLUICE_RULE=1"
grep -qx "PRIORITY=4" "$WORK/journal" || fail "a refusal is not a warning in the journal"
grep -qx "MESSAGE_ID=8d3e3db85b5b40859389894d39a54717" "$WORK/journal" ||
	fail "a refusal lacks its MESSAGE_ID"
grep -q "sekrit-$$" "$WORK/journal" "$AGENT_LOG" && fail "a statement's constant was logged"
stop_agent
