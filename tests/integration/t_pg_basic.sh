# Unmodified psql through the agent: credentials injected, the job's own
# password ignored, rotation of the password file, statement events.
. tests/lib.sh

setup_pg env SLUICE_DEBUG=1

# The job's wrong password does not matter: the agent logs in as "app".
out=$(job_psql -At -c "select current_user, current_database()") || fail "psql through the agent failed"
[ "$out" = "app|orders" ] || fail "upstream session runs as '$out', want app|orders"
# Directly, the same wrong password is refused: the job never held the secret.
PGPASSWORD=not-the-password psql -X -h 127.0.0.2 -p "$PGPORT" -U app -d orders -c "select 1" \
	>/dev/null 2>&1 && fail "the wrong password works directly?"

# Rotation: a new password in the file is used by the next connection.
pg_super -c "alter role app password 'rotated-$$'" || fail "alter role"
echo "rotated-$$" > "$WORK/app.pw"
out=$(job_psql -At -c "select 'after rotation'") || fail "psql after rotation failed"
[ "$out" = "after rotation" ] || fail "after rotation: $out"

# A wrong stored password: a clear error naming the target, never the secret.
echo "stale-$$" > "$WORK/app.pw"
out=$(job_psql -c "select 1" 2>&1) && fail "a stale password was accepted"
case "$out" in *'authentication to target "orders-db" as user "app" failed'*) ;;
	*) fail "error does not name the target: $out" ;; esac
case "$out$(cat "$AGENT_LOG")" in *"stale-$$"*|*"rotated-$$"*|*"app-secret-$$"*) fail "a password leaked" ;; esac
echo "rotated-$$" > "$WORK/app.pw"

# A password file others can read is refused.
chmod 0644 "$WORK/app.pw"
out=$(job_psql -c "select 1" 2>&1) && fail "a world-readable password file was used"
grep -q "readable by group or others" "$AGENT_LOG" || fail "no log of the refused password file"
chmod 0600 "$WORK/app.pw"

# md5 and cleartext, as pg_hba.conf may ask for them: refused unless the
# target's credentials.methods allows them.
sed -i "1i host all app 127.0.0.0/8 md5 # sluice-test-method" "$PGDATA/pg_hba.conf"
pg_super -c "set password_encryption = 'md5'" -c "alter role app password 'rotated-$$'" \
	-c "select pg_reload_conf()" >/dev/null || fail "switch to md5"
out=$(job_psql -c "select 1" 2>&1) && fail "md5 was used though methods does not allow it"
case "$out" in *'asks for md5 authentication, which its credentials.methods does not allow'*) ;;
	*) fail "md5 refusal: $out" ;; esac
stop_agent
sed -i 's|"password_file": "\([^"]*\)" }|"password_file": "\1", "methods": ["scram-sha-256", "md5", "password"] }|' \
	"$WORK/policy.json"
grep -q '"methods"' "$WORK/policy.json" || fail "policy edit"
start_agent "$WORK/policy.json" env SLUICE_DEBUG=1
for method in md5 password; do
	sed -i "/^host.*app.*sluice-test-method/d" "$PGDATA/pg_hba.conf"
	sed -i "1i host all app 127.0.0.0/8 $method # sluice-test-method" "$PGDATA/pg_hba.conf"
	pg_super -c "set password_encryption = 'md5'" -c "alter role app password 'rotated-$$'" \
		-c "select pg_reload_conf()" >/dev/null || fail "switch to $method"
	out=$(job_psql -At -c "select '$method ok'") || fail "psql with $method authentication failed"
	[ "$out" = "$method ok" ] || fail "$method: $out"
	grep -q "authenticated to target orders-db as app ($method, no TLS)" "$AGENT_LOG" ||
		fail "the agent did not use $method"
done
sed -i "/sluice-test-method/d" "$PGDATA/pg_hba.conf"
pg_super -c "alter role app password 'rotated-$$'" -c "select pg_reload_conf()" >/dev/null

# Statement events: simple query, and the extended protocol with a parameter.
job_psql -c "create table t (id int, secret text)" -c "insert into t values (1, 'x')" || fail "create"
in_cgroup "/$TAG" env PGPASSWORD=x "$PGBIN/pgbench" -h 127.0.0.2 -p "$PGPORT" -U whoever -n -t 1 \
	-M extended -f /dev/stdin orders <<'SQL' >/dev/null || fail "pgbench extended failed"
select id, secret as s from t where id = 1 + 0 * :client_id;
SQL
# Each is in the session's recording.
wait_recorded '"path":"query",.*"text":"insert into t values \(\$1, \$2\)"' ||
	fail "no event for the simple query"
wait_recorded '"path":"extended","decision":"allow",.*"prepared":"","portal":"","text":"select id, secret as s from t where id = \$2 \+ \$3 \* \$1;?","params":\["[0-9]+"\]' ||
	fail "no event for the extended query"
wait_recorded '"ev":"columns",.*"names":\["id","s"\]' || fail "no result columns"
wait_recorded '"ev":"result",.*"tag":"INSERT 0 1","rows":1,' || fail "no command tag"
# The statement a portal runs is the one the server accepted: a second
# Parse of the same name that the server rejects changes nothing.
PY=$(command -v python3) || fail "python3 not found"
in_cgroup "/$TAG" "$PY" - "$PGPORT" > "$WORK/confuse.out" 2>&1 <<'PYEOF' || fail "raw client: $(cat "$WORK/confuse.out")"
import socket, struct, sys
s = socket.create_connection(("127.0.0.2", int(sys.argv[1])))
def send(t, body): s.sendall(t + struct.pack("!I", len(body) + 4) + body)
def until_ready():
    seen = b""
    while True:
        t = s.recv(1); n = struct.unpack("!I", s.recv(4))[0]; body = b""
        while len(body) < n - 4: body += s.recv(n - 4 - len(body))
        seen += t
        if t == b"Z": return seen
params = b"user\0job\0database\0orders\0\0"
s.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
until_ready()
send(b"P", b"s1\0select 1 as really_ran\0\0\0"); send(b"S", b""); until_ready()
send(b"P", b"s1\0select 2 as what_the_log_says\0\0\0"); send(b"S", b"")
assert b"E" in until_ready(), "the duplicate Parse was not refused"
send(b"B", b"\0s1\0\0\0\0\0\0\0"); send(b"E", b"\0\0\0\0\0"); send(b"S", b"")
print(until_ready())
PYEOF
wait_recorded '"prepared":"s1","portal":"","text":"select \$1 as really_ran","params":\[\]' ||
	fail "the executed statement was not recorded as the one the server ran"
recordings | grep -q '"text":"select \$1 as what_the_log_says"' &&
	fail "a rejected Parse was taken as the statement"
stop_agent
