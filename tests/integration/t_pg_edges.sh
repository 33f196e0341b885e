# Protocol edges of the SQL policy and masking, each once a way around
# them: names longer than the server keeps, statements replaced by SQL
# PREPARE, settings changed in a pipeline, renamed columns, a verdict
# shared by fingerprint, settings reported back, errors of the agent's own
# requests, Queries the server skips after an error. A raw client
# (tests/helpers/pg_raw.py) sends what drivers would not.
. tests/lib.sh

pg_start
LPORT=$(free_port)
SSN="111-22-3333"
PGPASSWORD="$PGSUPER_PW" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" -U postgres \
	-d orders >/dev/null <<SQL || fail "fixtures"
CREATE TABLE users (id int, name text, ssn text);
INSERT INTO users VALUES (1, 'alice', '$SSN');
CREATE TABLE t (a int);
CREATE TABLE notes (body text);
CREATE VIEW v AS SELECT ssn AS x FROM users;
ALTER TABLE users OWNER TO app; ALTER TABLE t OWNER TO app; ALTER TABLE notes OWNER TO app;
ALTER VIEW v OWNER TO app;
SQL
mk_cgroup "/$TAG"
write_pg_policy "$WORK/policy.json" "$LPORT"
python3 - "$WORK/policy.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["rules"][0]["deny"] = ["drop"]
p["rules"][0]["mask"] = [{"column": "ssn"}]
json.dump(p, open(sys.argv[1], "w"), indent=1)
PY
start_agent "$WORK/policy.json"

ALL_OUT="$WORK/all-output"
raw() { # [--ready=N] STEP...
	out=$(in_cgroup "/$TAG" python3 tests/helpers/pg_raw.py "$@" 2>&1) || fail "pg_raw: $out"
	printf '%s\n' "$out" >> "$ALL_OUT"
	printf '%s\n' "$out"
}
ready() { # the rest as for raw, with HOST PORT put in
	case "$1" in --ready=*) r=$1; shift; raw "$r" 127.0.0.2 "$PGPORT" "$@" ;;
	*) raw 127.0.0.2 "$PGPORT" "$@" ;; esac
}
t_exists() {
	[ "$(pg_super -d orders -At -c "select to_regclass('public.t') is not null")" = t ]
}
A63=$(printf 'a%.0s' $(seq 1 63))

# The server keys statements by their first 63 bytes: a Bind of a name
# that differs after them runs the statement a Parse made.
out=$(ready "P:${A63}1:DROP TABLE t" "B::${A63}2" "E:" S)
case "$out" in *"ERROR 42501 sluice: drop denied by policy rule 0"*) ;;
*) fail "a DROP under a long name was not refused: $out" ;; esac
t_exists || fail "table t was dropped"
out=$(ready "P:${A63}1:SELECT ssn FROM users" "B::${A63}2" "E:" S)
case "$out" in *"ROW ***"*) ;; *) fail "long-name portal not masked: $out" ;; esac

# SQL DEALLOCATE and PREPARE replace what a Parse made of a name.
out=$(ready "P:s:SELECT 'x'" S "Q:DEALLOCATE s" \
	"Q:PREPARE s AS SELECT upper(ssn) FROM users WHERE id = 1" "B::s" "E:" S)
case "$out" in *"ROW ***"*) ;; *) fail "a statement replaced by PREPARE was not masked: $out" ;; esac

# A statement pipelined behind a change of standard_conforming_strings is
# not read under the old setting.
out=$(ready "Q:SET standard_conforming_strings = off" "Q:SELECT 'a\\'; DROP TABLE t; --'")
case "$out" in *"sent before the server answered a change of standard_conforming_strings"*) ;;
*) fail "a statement pipelined behind SET standard_conforming_strings ran: $out" ;; esac
t_exists || fail "table t was dropped through a pipelined setting change"

# Columns renamed by an alias; a verdict that a fingerprint would share.
out=$(ready "Q:SELECT x || '' FROM users AS u(i, n, x) WHERE i = 1")
case "$out" in *"ROW ***"*) ;; *) fail "renamed column not masked: $out" ;; esac
out=$(ready "Q:SELECT row_to_json(u) FROM users v" "Q:SELECT row_to_json(u) FROM users u")
case "$out" in *"ROW NULL"*) ;; *) fail "whole row (json: NULL) not masked after a look-alike: $out" ;; esac

# A setting a sensitive statement changes is reported without its value
# (storing the masked value itself there is refused: t_pg_mask).
out=$(ready "Q:SELECT set_config('application_name', 'x' || id, false), ssn FROM users WHERE id = 1")
case "$out" in *"PARAM application_name ***"*) ;; *) fail "application_name reported: $out" ;; esac

# The agent's own catalog request fails in an aborted transaction; the job
# sees its own statement's error, and the session goes on.
out=$(ready "Q:BEGIN" "Q:SELECT 1/0" "Q:SELECT name FROM users" "Q:ROLLBACK" \
	"Q:SELECT name, ssn FROM users")
case "$out" in *"ERROR 25P02"*"ROW alice|***"*) ;; *) fail "aborted transaction: $out" ;; esac

# A refused Query while a portal is open (the agent's stand-in has no name).
out=$(ready "Q:BEGIN" "P:s2:SELECT 1" "B:p:s2" S "Q:DROP TABLE t" "Q:ROLLBACK")
case "$out" in *"ERROR 42501 sluice: drop denied"*) ;; *) fail "refused Query: $out" ;; esac

# After an error in an extended request the server skips Queries up to the
# next Sync: what follows is still matched to the right statement.
out=$(ready --ready=2 "P::SELECT 1/0" "B::" "E:" "Q:SELECT 1" "Q:SELECT 2" S \
	"Q:SELECT upper(ssn) FROM users WHERE id = 1")
case "$out" in *"ERROR 22012"*"ROW ***"*) ;; *) fail "skipped Queries: $out" ;; esac

# A statement that waits for the agent's catalog answer, in a batch the
# server already skips (an error before it): the wait ends with the error,
# nothing hangs, and the batch ends as the server says.
out=$(ready "P::SELEC 1" "P:s9:INSERT INTO t SELECT id FROM users" "B::s9" "E:" S "Q:SELECT 7")
case "$out" in *"ERROR 42601"*"READY I"*"ROW 7"*) ;; *) fail "a held statement in a failed batch: $out" ;; esac

# A Query the server skips (an error earlier in the batch, seen before the
# Query is sent) leaves nothing behind that later answers are matched to.
out=$(ready --ready=4 "Q:SELECT upper(name) FROM users" "P::SELECT 1/0" "B::" "E:" H W \
	"Q:SELECT 1" S "Q:SELECT 2" "Q:SELECT upper(ssn) FROM users")
case "$out" in *"ROW 2"*"ROW ***"*) ;; *) fail "after a skipped Query: $out" ;; esac

# Copies the checks must see: through a view whose lookup failed (aborted
# transaction) or succeeded, a WITH, a three-part name, a view made in the
# same string.
out=$(ready "Q:BEGIN" "Q:SELECT 1/0" "Q:INSERT INTO notes SELECT x FROM v" "Q:ROLLBACK" \
	"Q:INSERT INTO notes SELECT x FROM v" \
	"Q:WITH c AS (SELECT ssn AS y FROM users) INSERT INTO notes SELECT y FROM c" \
	"Q:INSERT INTO notes SELECT x FROM orders.public.v" \
	"Q:CREATE TEMP VIEW tv AS SELECT ssn AS z FROM users; INSERT INTO notes SELECT z FROM tv")
[ "$(printf '%s\n' "$out" | grep -c '^ERROR 42501 sluice: insert')" -ge 4 ] ||
	fail "copies not all refused: $out"
[ "$(pg_super -d orders -At -c "select count(*) from notes")" = 0 ] || fail "a copy was stored"

# Many relations in one string, then more: the agent's list of looked-up
# names is renewed without losing what it asks about.
many=$(i=1; while [ $i -le 520 ]; do printf 'SELECT 1 FROM nx%d; ' $i; i=$((i + 1)); done)
more=$(i=1; while [ $i -le 20 ]; do printf 'SELECT 1 FROM ny%d; ' $i; i=$((i + 1)); done)
out=$(ready "Q:$many" "Q:$more" "Q:SELECT name FROM users")
case "$out" in *"ROW alice"*) ;; *) fail "after many names: $out" ;; esac

grep -qF -- "$SSN" "$ALL_OUT" && fail "a masked value reached the job"
out=$(in_cgroup "/$TAG" env PGPASSWORD=x psql -X -At -h 127.0.0.2 -p "$PGPORT" -U x -d orders \
	-c "select name from users") || fail "the agent stopped serving: $out"
[ "$out" = alice ] || fail "after the edges: $out"
stop_agent
