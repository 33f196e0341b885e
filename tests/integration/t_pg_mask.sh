# Masking on a real PostgreSQL: the job never receives a masked value, by
# any path (simple and extended protocol, text and binary, *, aliases,
# views, expressions, aggregates, user functions, cursors, COPY, errors and
# notices), and everything around a masked value arrives intact.
. tests/lib.sh

PGQ=$BUILD/tests/sluice-pgq
pg_start
LPORT=$(free_port)
SSN1="111-22-3333"
SSN2="444-55-6666"
MAIL1="alice.longname@example.com"
TOKEN1="tok-$$-abcdef"

PGPASSWORD="$PGSUPER_PW" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" -U postgres \
	-d orders >/dev/null <<EOF || fail "fixtures"
CREATE TABLE users (id int, name text, email varchar(80), ssn text, salary int,
	secret_token text, note text);
INSERT INTO users VALUES (1, 'alice', '$MAIL1', '$SSN1', 5000, '$TOKEN1', 'first'),
	(2, 'bob', 'bob@example.com', '$SSN2', 6000, 'tok-2', 'second');
ALTER TABLE users ALTER COLUMN note SET NOT NULL;
CREATE TABLE notes (n text); ALTER TABLE notes OWNER TO app;
CREATE UNIQUE INDEX users_id ON users (id);
CREATE VIEW v_users AS SELECT id, name, email FROM users;
CREATE VIEW v_public AS SELECT id, name, note FROM users;
CREATE VIEW v_v AS SELECT * FROM v_users;
CREATE FUNCTION get_ssn(i int) RETURNS text LANGUAGE sql AS 'SELECT ssn FROM users WHERE id = i';
ALTER TABLE users OWNER TO app; ALTER VIEW v_users OWNER TO app;
ALTER VIEW v_public OWNER TO app; ALTER VIEW v_v OWNER TO app;
ALTER FUNCTION get_ssn(int) OWNER TO app;
EOF

mk_cgroup "/$TAG"
write_pg_policy "$WORK/policy.json" "$LPORT"
python3 - "$WORK/policy.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["rules"][0]["mask"] = [
    {"column": "ssn"},
    {"column": "users.email", "with": "partial"},
    {"column_regex": "(?i)^secret_", "with": "hash"},
    {"column": "salary", "with": "null"},
]
json.dump(p, open(sys.argv[1], "w"), indent=1)
EOF
start_agent "$WORK/policy.json"

pgq() { # PGQ-ARGS...
	in_cgroup "/$TAG" env PGHOST=127.0.0.2 PGPORT="$PGPORT" PGUSER=whoever \
		PGPASSWORD=not-the-password PGDATABASE=orders PGCONNECT_TIMEOUT=10 "$PGQ" "$@" 2>&1
}
ALL_OUT="$WORK/all-output"
: > "$ALL_OUT"
# Run, keep the output for the final leak check, print it.
q() {
	out=$(pgq "$@") || fail "sluice-pgq failed: $out"
	printf '%s\n' "$out" >> "$ALL_OUT"
	printf '%s\n' "$out"
}
expect() { # OUTPUT LINE: OUTPUT has LINE exactly
	printf '%s\n' "$1" | grep -qxF -- "$2" || fail "expected \"$2\" in: $1"
}

# Plain columns, simple and extended, text: masked per method, rest intact.
for mode in simple extended prepared; do
	out=$(q -m $mode "SELECT id, name, ssn, email, salary, secret_token, note FROM users ORDER BY id")
	expect "$out" "ROW 1|alice|***|**********************.com|NULL|$(printf 'h:')$(printf '%s' "$out" | sed -n 's/^ROW 1|[^|]*|[^|]*|[^|]*|[^|]*|h:\([0-9a-f]\{16\}\)|first$/\1/p')|first"
	expect "$out" "ROW 2|bob|***|***********.com|NULL|$(printf '%s' "$out" | sed -n 's/^ROW 2|.*|\(h:[0-9a-f]\{16\}\)|second$/\1/p')|second"
done
# Hashes are stable: the same value hashes the same in another session.
h1=$(q "SELECT secret_token FROM users WHERE id = 1" | sed -n 's/^ROW //p')
h2=$(q -m extended "SELECT secret_token FROM users WHERE id = 1" | sed -n 's/^ROW //p')
case "$h1" in h:????????????????) ;; *) fail "hash form: $h1" ;; esac
[ "$h1" = "$h2" ] || fail "hash differs between sessions: $h1 $h2"

# Binary results: text types masked, other types NULL, the rest exact.
out=$(q -m extended -b "SELECT id, ssn, salary, name FROM users WHERE id = 1")
expect "$out" "ROW 00000001|2a2a2a|NULL|616c696365"

# *, aliases, expressions, aggregates, subqueries, CTEs.
out=$(q "SELECT * FROM users WHERE id = 2")
expect "$out" "ROW 2|bob|***********.com|***|NULL|$(printf '%s' "$out" | sed -n 's/^ROW 2|.*|\(h:[0-9a-f]\{16\}\)|second$/\1/p')|second"
out=$(q "SELECT ssn AS x, name AS ssn FROM users WHERE id = 1")
expect "$out" "ROW ***|alice"
out=$(q "SELECT upper(ssn), length(ssn), ssn || '', name FROM users WHERE id = 1")
expect "$out" "ROW ***|NULL|***|alice"
out=$(q "SELECT max(ssn), string_agg(ssn, ','), count(*) FROM users")
expect "$out" "ROW ***|***|NULL"
out=$(q "SELECT count(*), max(name) FROM users")
expect "$out" "ROW 2|bob"
out=$(q "SELECT (SELECT ssn FROM users WHERE id = 1), x FROM (SELECT ssn AS x FROM users WHERE id = 2) q")
expect "$out" "ROW ***|***"
out=$(q "WITH c AS (SELECT ssn, name FROM users) SELECT ssn, name FROM c ORDER BY name")
expect "$out" "ROW ***|alice"
out=$(q "SELECT row_to_json(u) FROM users u WHERE id = 1")
expect "$out" "ROW NULL"

# Views: one that reads a masked column is masked whole (with the
# strongest method, here null), one that does not is untouched, and a view
# of a view is followed. Columns of unknown origin take the method of the
# masked columns the statement names, or the strongest when it could reach
# more (a whole row, a user function, a view).
out=$(q "SELECT * FROM v_users WHERE id = 1")
expect "$out" "ROW NULL|NULL|NULL"
out=$(q "SELECT * FROM v_v WHERE id = 1")
expect "$out" "ROW NULL|NULL|NULL"
out=$(q "SELECT * FROM v_public WHERE id = 1")
expect "$out" "ROW 1|alice|first"

# A user function that reads a masked column.
out=$(q "SELECT get_ssn(1), name FROM users WHERE id = 1")
expect "$out" "ROW NULL|alice"

# Cursors, in SQL and as protocol portals.
out=$(q BEGIN "DECLARE c CURSOR FOR SELECT name, ssn FROM users ORDER BY id" "FETCH 1 FROM c" \
	"DECLARE d CURSOR FOR SELECT upper(ssn) FROM users" "FETCH ALL FROM d" COMMIT)
expect "$out" "ROW alice|***"
expect "$out" "ROW NULL"

# The same paths in binary format: nothing of a masked value, the rest exact
# (alice is 616c696365).
out=$(q -m extended -b "SELECT upper(ssn), name FROM users WHERE id = 1" \
	"SELECT * FROM v_users WHERE id = 1" "SELECT * FROM v_public WHERE id = 1" \
	"SELECT get_ssn(1)" "SELECT email FROM users WHERE id = 1")
expect "$out" "ROW 2a2a2a|616c696365"
expect "$out" "ROW NULL|NULL|NULL"
expect "$out" "ROW 00000001|616c696365|6669727374"
expect "$out" "ROW NULL"
expect "$out" "ROW $(printf '%s' '**********************.com' | od -An -tx1 | tr -d ' \n')"

# A multi-statement string: each result masked.
out=$(q "SELECT ssn FROM users WHERE id = 1; SELECT name, email FROM users WHERE id = 2")
expect "$out" "ROW bob|***********.com"

# COPY TO STDOUT of masked columns is refused; of others it works.
out=$(q "COPY users TO STDOUT")
expect "$out" "ERROR 42501 sluice: COPY TO STDOUT of masked columns is refused: sluice cannot mask COPY output; use SELECT"
out=$(q "COPY (SELECT id, name FROM users ORDER BY id) TO STDOUT")
expect "$out" "$(printf 'COPY 1\talice')"
out=$(q -m extended "COPY (SELECT upper(ssn) FROM users) TO STDOUT" "SELECT 1")
expect "$out" "ERROR 42501 sluice: COPY TO STDOUT of masked columns is refused: sluice cannot mask COPY output; use SELECT"
expect "$out" "ROW 1"

# Errors and notices of a statement that touches masked data lose their
# texts (a cast error would quote the value), keep their SQLSTATE.
out=$(q "SELECT ssn::int FROM users" "SELECT 'x'::int" "UPDATE users SET note = NULL WHERE id = 1" \
	"DO \$\$ BEGIN RAISE NOTICE 'value %', (SELECT ssn FROM users LIMIT 1); END \$\$")
expect "$out" "ERROR 22P02 sluice: the server's message is withheld because the statement touches masked columns (SQLSTATE 22P02)"
expect "$out" "ERROR 22P02 invalid input syntax for type integer: \"x\""
expect "$out" "ERROR 23502 sluice: the server's message is withheld because the statement touches masked columns (SQLSTATE 23502)"
expect "$out" "NOTICE 00000 sluice: the server's message is withheld because the statement touches masked columns (SQLSTATE 00000)"

# A client that never describes its portal (as JDBC does with a cached
# statement): the agent describes it itself.
out=$(in_cgroup "/$TAG" python3 tests/helpers/pg_raw.py 127.0.0.2 "$PGPORT" \
	"P::SELECT name, ssn FROM users WHERE id = 1" "B::" "E:" S 2>&1) || fail "raw client: $out"
printf '%s\n' "$out" >> "$ALL_OUT"
out=$(printf '%s\n' "$out" | grep -v '^OK\|^READY')
[ "$out" = "ROW alice|***" ] || fail "undescribed portal: $out"

# Copies: a statement that would store a masked value where it is not
# masked is refused before it runs; one that keeps it masked, or only
# filters by it, runs.
out=$(q "INSERT INTO notes SELECT ssn FROM users" "UPDATE users SET note = ssn WHERE id = 1" \
	"CREATE TABLE copy AS SELECT email FROM users" "INSERT INTO notes SELECT * FROM users" \
	"SELECT set_config('application_name', ssn, false) FROM users" \
	"SELECT ssn INTO copy2 FROM users")
[ "$(printf '%s\n' "$out" | grep -c '^ERROR 42501 sluice: .* would store values of masked column')" = 6 ] ||
	fail "copies of masked values not all refused: $out"
expect "$out" 'ERROR 42501 sluice: insert would store values of masked column "ssn" where they are not masked; refused'
out=$(q "INSERT INTO users (id, name, ssn, note) VALUES (2, 'bob', '000', 'x') ON CONFLICT (id) DO UPDATE SET ssn = EXCLUDED.ssn" \
	"UPDATE users SET ssn = ssn || '', name = name WHERE id = 2")
[ "$(printf '%s\n' "$out" | grep -c '^OK')" = 2 ] || fail "an upsert or a touch was refused: $out"
out=$(q "UPDATE users SET ssn = upper(ssn) WHERE id = 2" \
	"UPDATE users SET note = 'keyed' WHERE ssn = '$SSN1'" "INSERT INTO notes (n) VALUES ('plain')" \
	"SELECT count(*) FROM notes")
expect "$out" "OK UPDATE 1"
expect "$out" "ROW 1"
[ "$(printf '%s\n' "$out" | grep -c '^ERROR')" = 0 ] || fail "a harmless write was refused: $out"
pg_super -d orders -At -c "select count(*) from notes where n like '%-%-%'" | grep -qx 0 ||
	fail "a masked value was copied into notes"

# Through a view that reads masked columns: the statement waits until the
# agent's catalog request has answered what v_users is (a fresh session
# has not asked yet), then is refused; one through a view without masked
# columns then runs. Both protocols.
for mode in simple extended; do
	out=$(q -m $mode "INSERT INTO notes SELECT name FROM v_users" \
		"INSERT INTO notes SELECT name FROM v_public WHERE id = 1")
	expect "$out" 'ERROR 42501 sluice: insert would store values of view "v_users", which reads masked columns, where they are not masked; refused'
	expect "$out" "OK INSERT 0 1"
done

# A job that puts its own "=" for OIDs before pg_catalog's cannot feed the
# agent's catalog cache (shared with every other session) wrong columns.
PGPASSWORD="$PGSUPER_PW" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" -U postgres \
	-d orders >/dev/null <<EOF || fail "evil operator"
CREATE FUNCTION public.evil_eq(oid, oid) RETURNS bool LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = public.evil_eq);
EOF
out=$(q "SET search_path = public, pg_catalog" "CREATE TEMP TABLE flush_the_cache (a int)" \
	"SELECT name, ssn FROM users WHERE id = 1")
expect "$out" "ROW alice|***"
out=$(q "SELECT ssn, email FROM users WHERE id = 1")
expect "$out" "ROW ***|**********************.com"

# Nothing the job received holds a masked original, as text or in hex.
for secret in "$SSN1" "$SSN2" "$MAIL1" "$TOKEN1" 5000 6000; do
	grep -qF -- "$secret" "$ALL_OUT" && fail "masked value $secret reached the job"
	hex=$(printf '%s' "$secret" | od -An -tx1 | tr -d ' \n')
	grep -qF -- "$hex" "$ALL_OUT" && fail "masked value $secret reached the job (binary)"
done
grep -qF -- "00001388" "$ALL_OUT" && fail "salary 5000 reached the job (binary int4)"
grep -qF -- "$SSN1" "$AGENT_LOG" && fail "a masked value is in the agent's log"
stop_agent
