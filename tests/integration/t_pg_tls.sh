# TLS on both sides of the PostgreSQL module: the job's sslmode=require is
# answered with the agent's own certificate (made in state_dir/tls), and
# toward the server tls.upstream disable/prefer/require/verify-full behave as
# documented, with SCRAM-SHA-256-PLUS when the server offers it over TLS.
. tests/lib.sh

command -v openssl >/dev/null || fail "the openssl CLI is missing"

# A throwaway CA, a server certificate for IP 127.0.0.2 signed by it, one for
# another IP (127.0.0.3) signed by it too, and an unrelated second CA.
# PostgreSQL runs as "postgres": the files go in a folder it owns, inside
# $WORK (0711, so postgres can reach it but not list it).
chmod 0711 "$WORK"
PKI="$WORK/pki"
mkdir -p "$PKI" || fail "mkdir $PKI"
mk_ca() { # NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$PKI/$1.key" -out "$PKI/$1.crt" -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1 ||
		fail "openssl could not make the CA $1"
}
mk_server_cert() { # NAME IP CA
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "/CN=$2" >/dev/null 2>&1 ||
		fail "openssl could not make the request for $1"
	printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$2" \
		> "$PKI/$1.ext"
	openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$3.crt" -CAkey "$PKI/$3.key" \
		-CAcreateserial -days 2 -sha256 -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" \
		>/dev/null 2>&1 || fail "openssl could not sign $1 with $3"
	openssl verify -CAfile "$PKI/$3.crt" "$PKI/$1.crt" >/dev/null 2>&1 ||
		fail "the certificate $1 does not verify against $3"
}
mk_ca test-ca "sluice test CA"
mk_ca other-ca "unrelated CA"
mk_server_cert server 127.0.0.2 test-ca
mk_server_cert wrong-ip 127.0.0.3 test-ca
openssl x509 -in "$PKI/server.crt" -noout -text | grep -q "IP Address:127.0.0.2" ||
	fail "the server certificate has no subjectAltName IP:127.0.0.2"
chown -R postgres "$PKI" && chmod 0700 "$PKI" && chmod 0600 "$PKI"/*.key ||
	fail "could not hand $PKI to postgres"

pg_start "ssl = on" "ssl_cert_file = '$PKI/server.crt'" "ssl_key_file = '$PKI/server.key'"
# The server itself speaks TLS with the test certificate.
out=$(PGSSLMODE=verify-full PGSSLROOTCERT="$PKI/test-ca.crt" pg_super -At \
	-c "select ssl from pg_stat_ssl where pid = pg_backend_pid()" 2>&1) ||
	fail "direct verify-full connection to the test server failed: $out"
[ "$out" = t ] || fail "direct connection with sslmode=verify-full is not TLS: $out"

LPORT=$(free_port)
mk_cgroup "/$TAG"

# psql as the job with libpq SSL settings: SSLMODE [ROOTCERT] -- ARGS...
job_psql_ssl() {
	jmode=$1 jroot=$2
	shift 2
	if [ -n "$jroot" ]; then
		in_cgroup "/$TAG" env PGSSLMODE="$jmode" PGSSLROOTCERT="$jroot" PGPASSWORD=not-the-password \
			PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" \
			-U whoever -d orders "$@"
	else
		in_cgroup "/$TAG" env PGSSLMODE="$jmode" PGSSLROOTCERT=/nonexistent PGPASSWORD=not-the-password \
			PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" \
			-U whoever -d orders "$@"
	fi
}

# Wait until a direct sslmode=verify-full connection with the test CA works
# (ok) or fails (bad): the server has reloaded its certificate.
direct_verify() {
	PGSSLMODE=verify-full PGSSLROOTCERT="$PKI/test-ca.crt" PGCONNECT_TIMEOUT=5 pg_super -At -c "select 1" \
		>/dev/null 2>&1
}
wait_server_cert() { # ok|bad
	n=100
	while [ $n -gt 0 ]; do
		if direct_verify; then [ "$1" = ok ] && return 0; else [ "$1" = bad ] && return 0; fi
		sleep 0.05
		n=$((n - 1))
	done
	fail "the server's certificate did not become $1 for a direct verify-full connection"
}

# The TLS state of the agent's own session on the server: "ssl|version".
UPSTREAM_SSL_SQL="select ssl, coalesce(version, '-') from pg_stat_ssl where pid = pg_backend_pid()"

# The newest "authenticated to target" line of the agent's log.
last_auth() {
	grep "authenticated to target orders-db as app" "$AGENT_LOG" | tail -n 1
}

# A job's connection (sslmode=require) that must fail at once with a message
# containing PATTERN; WHAT names the case in failures.
# expect_job_error PATTERN WHAT
expect_job_error() {
	before=$(date +%s)
	rc=0
	out=$(job_psql_ssl require "" -At -c "select 1" 2>&1) || rc=$?
	took=$(( $(date +%s) - before ))
	[ "$rc" -ne 0 ] || fail "$2: the job's psql succeeded (output: $out)"
	[ "$took" -le 5 ] || fail "$2: the job's psql took ${took}s to fail (a hang?): $out"
	case "$out" in *"timeout expired"*) fail "$2: the job's psql timed out: $out" ;; esac
	[ -n "$out" ] || fail "$2: psql failed (status $rc) without any message"
	case "$out" in *"server closed the connection unexpectedly"*|*"reset by peer"*)
		fail "$2: the agent dropped the job's connection instead of sending an error: $out" ;; esac
	case "$out" in *"$1"*) ;; *) fail "$2: the job's error does not say '$1': $out" ;; esac
}

# ------------------------------------------------------------------ job side
# Upstream plaintext (tls.upstream disable): the job side on its own.
write_pg_policy "$WORK/policy.json" "$LPORT" disable
start_agent "$WORK/policy.json"
[ -s "$WORK/state/tls/ca.crt" ] && [ -s "$WORK/state/tls/agent.crt" ] && [ -s "$WORK/state/tls/agent.key" ] ||
	fail "the agent did not make state/tls/{ca.crt,agent.crt,agent.key}"
[ "$(stat -c %a "$WORK/state/tls/agent.key")" = 600 ] ||
	fail "agent.key has mode $(stat -c %a "$WORK/state/tls/agent.key"), want 600"

# sslmode=require: TLS to the agent.
out=$(job_psql_ssl require "" -c '\conninfo' 2>&1) || fail "job with sslmode=require failed: $out"
case "$out" in *"SSL connection (protocol: TLSv1."[23]*) ;;
	*) fail "job with sslmode=require: psql reports no TLS connection: $out" ;; esac
out=$(job_psql_ssl require "" -At -c "select current_user" 2>&1) ||
	fail "query with sslmode=require failed: $out"
[ "$out" = app ] || fail "with sslmode=require the upstream session runs as '$out', want app"

# sslmode=verify-ca with the agent's CA: the certificate is the agent's.
out=$(job_psql_ssl verify-ca "$WORK/state/tls/ca.crt" -c '\conninfo' 2>&1) ||
	fail "job with sslmode=verify-ca against state/tls/ca.crt failed: $out"
case "$out" in *"SSL connection (protocol: TLSv1."[23]*) ;;
	*) fail "job with sslmode=verify-ca: psql reports no TLS connection: $out" ;; esac
# ... and not some other CA's: the job really checks it.
out=$(job_psql_ssl verify-ca "$PKI/other-ca.crt" -c "select 1" 2>&1) &&
	fail "job with sslmode=verify-ca against an unrelated CA succeeded: $out"
case "$out" in *"certificate verify failed"*) ;;
	*) fail "verify-ca against an unrelated CA failed without a certificate error: $out" ;; esac

# sslmode=disable: plaintext to the agent still works.
out=$(job_psql_ssl disable "" -c '\conninfo' -At -c "select current_user" 2>&1) ||
	fail "job with sslmode=disable failed: $out"
case "$out" in *"SSL connection"*) fail "job with sslmode=disable reports TLS: $out" ;; esac
case "$out" in *app*) ;; *) fail "job with sslmode=disable: no result: $out" ;; esac

# Upstream disable: the agent's session on the server is not TLS, plain SCRAM.
out=$(job_psql_ssl require "" -At -c "$UPSTREAM_SSL_SQL" 2>&1) || fail "pg_stat_ssl query failed: $out"
[ "$out" = "f|-" ] || fail "tls.upstream disable: the server sees ssl '$out', want f|-"
case "$(last_auth)" in *"(SCRAM-SHA-256, no TLS)"*) ;;
	*) fail "tls.upstream disable: log says '$(last_auth)', want (SCRAM-SHA-256, no TLS)" ;; esac
stop_agent

# ------------------------------------------------------- upstream verify-full
write_pg_policy "$WORK/policy.json" "$LPORT" verify-full "$PKI/test-ca.crt"
# The agent runs as root: the CA in the postgres-owned folder is readable.
start_agent "$WORK/policy.json"
out=$(job_psql_ssl require "" -At -c "$UPSTREAM_SSL_SQL" -c "select current_user" 2>&1) ||
	fail "tls.upstream verify-full with the test CA failed: $out"
case "$out" in "t|TLSv1."[23]*app) ;;
	*) fail "tls.upstream verify-full: the server sees '$out', want t|TLSv1.x then app" ;; esac
case "$(last_auth)" in *"(SCRAM-SHA-256-PLUS, TLSv1."[23]")"*) ;;
	*) fail "tls.upstream verify-full: log says '$(last_auth)', want (SCRAM-SHA-256-PLUS, TLSv1.x)" ;; esac
# A plaintext job on the same target: TLS upstream all the same.
out=$(job_psql_ssl disable "" -At -c "$UPSTREAM_SSL_SQL" 2>&1) ||
	fail "plaintext job with tls.upstream verify-full failed: $out"
case "$out" in "t|TLSv1."[23]) ;; *) fail "plaintext job, verify-full upstream: server sees '$out'" ;; esac
stop_agent

# A CIDR target: verify-full checks the address dialled (127.0.0.2, which
# the certificate names), not the network's (127.0.0.0).
sed -i "s|\"address\": \"127.0.0.2:$PGPORT\"|\"address\": \"127.0.0.0/24:$PGPORT\"|" "$WORK/policy.json"
grep -q "127.0.0.0/24:$PGPORT" "$WORK/policy.json" || fail "policy edit for a CIDR target"
start_agent "$WORK/policy.json"
out=$(job_psql_ssl disable "" -At -c "$UPSTREAM_SSL_SQL" 2>&1) ||
	fail "verify-full on a CIDR target failed: $out"
case "$out" in "t|TLSv1."[23]) ;; *) fail "CIDR target, verify-full: server sees '$out'" ;; esac
stop_agent

# The agent with the policy written last refuses the server's certificate:
# the job is told which target, the log says why.
expect_verify_failure() { # DESCRIPTION
	start_agent "$WORK/policy.json"
	n0=$(count "$AGENT_LOG" "certificate verify failed")
	expect_job_error 'target "orders-db"' "$1"
	wait_for "$AGENT_LOG" "certificate verify failed" 5 &&
		[ "$(count "$AGENT_LOG" "certificate verify failed")" -gt "$n0" ] ||
		fail "$1: the agent log does not say the certificate verification failed"
	stop_agent
}

# verify-full with an unrelated CA: the handshake fails, the job is told.
write_pg_policy "$WORK/policy.json" "$LPORT" verify-full "$PKI/other-ca.crt"
expect_verify_failure "verify-full with an unrelated CA"

# verify-full with the right CA but a certificate for another IP.
pg_super -c "alter system set ssl_cert_file = '$PKI/wrong-ip.crt'" \
	-c "alter system set ssl_key_file = '$PKI/wrong-ip.key'" -c "select pg_reload_conf()" >/dev/null ||
	fail "could not switch the server to the 127.0.0.3 certificate"
wait_server_cert bad
write_pg_policy "$WORK/policy.json" "$LPORT" verify-full "$PKI/test-ca.crt"
expect_verify_failure "verify-full, certificate for 127.0.0.3"
pg_super -c "alter system reset ssl_cert_file" -c "alter system reset ssl_key_file" \
	-c "select pg_reload_conf()" >/dev/null || fail "could not restore the server certificate"
wait_server_cert ok

# ------------------------------------------------------- require and prefer
# require: TLS without verification (no CA given, the test CA is unknown).
write_pg_policy "$WORK/policy.json" "$LPORT" require
start_agent "$WORK/policy.json"
out=$(job_psql_ssl require "" -At -c "$UPSTREAM_SSL_SQL" 2>&1) || fail "tls.upstream require failed: $out"
case "$out" in "t|TLSv1."[23]) ;; *) fail "tls.upstream require: the server sees '$out', want t|TLSv1.x" ;; esac
case "$(last_auth)" in *"(SCRAM-SHA-256-PLUS, TLSv1."[23]")"*) ;;
	*) fail "tls.upstream require: log says '$(last_auth)', want (SCRAM-SHA-256-PLUS, TLSv1.x)" ;; esac
stop_agent

# prefer against a server with TLS: TLS is used.
write_pg_policy "$WORK/policy.json" "$LPORT" prefer
start_agent "$WORK/policy.json"
out=$(job_psql_ssl require "" -At -c "$UPSTREAM_SSL_SQL" 2>&1) || fail "tls.upstream prefer failed: $out"
case "$out" in "t|TLSv1."[23]) ;; *) fail "tls.upstream prefer, server ssl=on: the server sees '$out', want t|TLSv1.x" ;; esac
case "$(last_auth)" in *"(SCRAM-SHA-256-PLUS, TLSv1."[23]")"*) ;;
	*) fail "tls.upstream prefer: log says '$(last_auth)', want (SCRAM-SHA-256-PLUS, TLSv1.x)" ;; esac

# The server turns TLS off: prefer falls back to plaintext (same agent).
pg_super -c "alter system set ssl = off" -c "select pg_reload_conf()" >/dev/null ||
	fail "could not turn ssl off on the server"
n=100
while [ "$(pg_super -At -c 'show ssl')" != off ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
[ "$(pg_super -At -c 'show ssl')" = off ] || fail "the server still has ssl on"
out=$(job_psql_ssl require "" -At -c "$UPSTREAM_SSL_SQL" 2>&1) ||
	fail "tls.upstream prefer against a server without TLS failed: $out"
[ "$out" = "f|-" ] || fail "tls.upstream prefer, server ssl=off: the server sees '$out', want f|-"
case "$(last_auth)" in *"(SCRAM-SHA-256, no TLS)"*) ;;
	*) fail "tls.upstream prefer, server ssl=off: log says '$(last_auth)', want (SCRAM-SHA-256, no TLS)" ;; esac
stop_agent

# require against a server without TLS: a clear error naming the target.
write_pg_policy "$WORK/policy.json" "$LPORT" require
start_agent "$WORK/policy.json"
expect_job_error 'target "orders-db" does not accept TLS' "tls.upstream require, server ssl=off"
grep -q 'target "orders-db" does not accept TLS' "$AGENT_LOG" ||
	fail "tls.upstream require, server ssl=off: the agent log does not say so"
# verify-full likewise.
stop_agent
write_pg_policy "$WORK/policy.json" "$LPORT" verify-full "$PKI/test-ca.crt"
start_agent "$WORK/policy.json"
expect_job_error 'target "orders-db" does not accept TLS' "tls.upstream verify-full, server ssl=off"
# The agent is still fine after all the refusals: disable works.
stop_agent
write_pg_policy "$WORK/policy.json" "$LPORT" disable
start_agent "$WORK/policy.json"
out=$(job_psql_ssl require "" -At -c "select 'still serving'" 2>&1) || fail "agent after the TLS errors: $out"
[ "$out" = "still serving" ] || fail "agent after the TLS errors answered '$out'"
stop_agent
grep -qE 'Sanitizer|runtime error' "$AGENT_LOG" && fail "sanitizer report in the agent's log"
exit 0
