# Helpers for integration tests: sourced, POSIX sh. Each test makes what it
# needs (cgroups, servers, an agent with its own listener and pin folder) and
# the EXIT trap removes all of it, whatever happened.
#
# SLUICE_BUILD (build dir) is set by tests/run.sh.

set -u
BUILD=${SLUICE_BUILD:-build}
SLUICED=$BUILD/sluiced
TESTNET=$BUILD/tests/sluice-testnet
T=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/sluice-$T.XXXXXX")
TAG="sluice-test-$$"
PIDS=""
CGROUPS=""
AGENT_PID=""
BPFFS="/sys/fs/bpf/$TAG"
AGENT_LOG="$WORK/agent.log"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=98}"

fail() {
	echo "FAIL $T: $*" >&2
	if [ -s "$AGENT_LOG" ]; then
		echo "--- last lines of the agent's log:" >&2
		tail -n 15 "$AGENT_LOG" | cut -c1-400 >&2
	fi
	exit 1
}

note() {
	echo "  $T: $*" >&2
}

cgroup_root() {
	# mountinfo: fields before " - " then fstype; field 5 is the mount point.
	awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") { print $5; exit } break } }' \
		/proc/self/mountinfo
}
CG_ROOT=$(cgroup_root)
[ -n "$CG_ROOT" ] || fail "no cgroup2 mount"

# A fresh loopback port nobody listens on.
free_port() {
	while :; do
		p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000 ))
		ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
}

mk_cgroup() { # REL
	mkdir -p "$CG_ROOT$1" || fail "mkdir cgroup $1"
	CGROUPS="$1 $CGROUPS"
}

# Run a command inside cgroup REL (the process moves itself, then execs).
in_cgroup() { # REL CMD...
	rel=$1
	shift
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG_ROOT$rel" "$@"
}

bg() { # CMD... : start in the background, remember for cleanup
	"$@" &
	PIDS="$! $PIDS"
}

wait_for() { # FILE PATTERN [SECONDS]
	n=$(( ${3:-10} * 20 ))
	while [ "$n" -gt 0 ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

start_server() { # ADDR PORT
	rm -f "$WORK/ready.$2"
	bg "$TESTNET" serve "$1" "$2" --ready "$WORK/ready.$2"
	wait_for "$WORK/ready.$2" ready || fail "server $1 $2 did not start"
}

# A policy: agent on LPORT, selecting cgroup /TAG, one tcp target per
# "name addr:port" argument, identity "job" for the cgroup subtree.
write_policy() { # FILE LPORT TARGET...
	f=$1 lport=$2
	shift 2
	{
		printf '{\n  "agent": { "listen": "127.0.0.1:%s", "listen6": "[::1]:%s",\n' "$lport" "$lport"
		printf '    "bpffs": "%s", "state_dir": "%s/state", "control_socket": "%s/control.sock",\n' "$BPFFS" "$WORK" "$WORK"
		printf '    "select": { "cgroups": ["/%s"] } },\n' "$TAG"
		printf '  "identities": [ { "name": "job", "match": { "cgroup": "/%s*" }, "roles": ["t"] } ],\n' "$TAG"
		printf '  "targets": [\n'
		sep=" "
		for t in "$@"; do
			printf '   %s { "name": "%s", "protocol": "tcp", "address": "%s" }\n' "$sep" "${t%% *}" "${t#* }"
			sep=","
		done
		printf '  ],\n  "rules": [\n'
		sep=" "
		for t in "$@"; do
			printf '   %s { "target": "%s", "roles": ["t"], "allow": ["connect"] }\n' "$sep" "${t%% *}"
			sep=","
		done
		printf '  ]\n}\n'
	} > "$f"
}


# Start the agent with POLICY, optionally through a wrapper command (its
# last argument must exec the rest), and wait until it serves.
start_agent() { # POLICY [WRAPPER...]
	policy=$1
	shift
	started=$(count "$AGENT_LOG" "serving")
	"$@" "$SLUICED" --config "$policy" >>"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	n=400
	while [ "$(count "$AGENT_LOG" "serving")" = "$started" ]; do
		n=$((n - 1))
		[ "$n" -gt 0 ] && kill -0 "$AGENT_PID" 2>/dev/null || fail "agent did not start"
		sleep 0.05
	done
}

# The common stage: an echo server on 127.0.0.2:$SPORT, the cgroup /$TAG,
# and a policy in $WORK/policy.json with that server as target "echo".
# EXTRA targets ("name addr:port") are added; the agent is not started.
setup_echo() { # [EXTRA...]
	SPORT=$(free_port)
	LPORT=$(free_port)
	start_server 127.0.0.2 "$SPORT"
	mk_cgroup "/$TAG"
	write_policy "$WORK/policy.json" "$LPORT" "echo 127.0.0.2:$SPORT" "$@"
}

# Stop the agent with SIGTERM; fails the test if it exits non-zero (leaks and
# sanitizer reports make it do so).
stop_agent() {
	[ -n "$AGENT_PID" ] || return 0
	kill -TERM "$AGENT_PID" 2>/dev/null
	rc=0
	wait "$AGENT_PID" || rc=$?
	AGENT_PID=""
	if [ "$rc" -ne 0 ] || grep -qE 'Sanitizer|runtime error' "$AGENT_LOG"; then
		cat "$AGENT_LOG" >&2
		fail "agent exited with status $rc"
	fi
}

# The command (a probe) must end with the connection reset, as the agent
# does to callers it refuses: during connect() (status 3) or after (4).
expect_reset() { # CMD...
	rc=0
	"$@" 2>"$WORK/reset.err" >/dev/null || rc=$?
	case "$rc" in 3|4) ;; *) return 1 ;; esac
	grep -q "reset by peer" "$WORK/reset.err"
}

kill9_agent() {
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=""
}

# The decompressed content of every recording the agent wrote in
# $RECORDINGS (MACs are not checked: sluice-replay verify does that).
RECORDINGS=$WORK/state/recordings
recordings() {
	python3 tests/helpers/slrec_dump.py "$RECORDINGS"
}

# Wait until a recording holds a line matching PATTERN (grep -E): sessions
# are written at their end and every agent.record_flush_ms.
wait_recorded() { # PATTERN [SECONDS]
	n=$(( ${2:-10} * 20 ))
	while ! recordings | grep -qE -- "$1"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.05
	done
}

count() { # FILE PATTERN: lines of FILE matching, 0 if FILE is missing
	if [ -f "$1" ]; then grep -c -- "$2" "$1"; else echo 0; fi
}

# journald, started for the test when the host runs none (no systemd as
# pid 1), and stopped again by cleanup.
JOURNALD_PID=""
ensure_journald() {
	[ -S /run/systemd/journal/socket ] && pgrep -x systemd-journal >/dev/null && return 0
	/lib/systemd/systemd-journald &
	JOURNALD_PID=$!
	n=100
	while [ ! -S /run/systemd/journal/socket ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
	[ -S /run/systemd/journal/socket ] || fail "could not start journald"
}

cleanup() {
	pg_stop
	[ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null
	[ -n "$JOURNALD_PID" ] && kill -TERM "$JOURNALD_PID" 2>/dev/null
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -d "$BPFFS" ]; then
		for pin in "$BPFFS"/*; do
			[ -e "$pin" ] && rm -f "$pin"
		done
		rmdir "$BPFFS" 2>/dev/null
	fi
	for cg in $CGROUPS; do
		[ -d "$CG_ROOT$cg" ] || continue
		# A test's leftover processes die with its cgroup.
		if [ -e "$CG_ROOT$cg/cgroup.kill" ]; then
			echo 1 > "$CG_ROOT$cg/cgroup.kill" 2>/dev/null
		else
			for p in $(cat "$CG_ROOT$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$p"; done
		fi
		n=50
		while ! rmdir "$CG_ROOT$cg" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A throwaway PostgreSQL on 127.0.0.2:$PGPORT, scram-sha-256 for TCP, owned
# by the test: superuser "postgres" with password $PGSUPER_PW, and "app"
# (password in $WORK/app.pw, 0600) owning database "orders". Extra
# settings for postgresql.conf may be given as arguments.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PGDATA="$WORK/pgdata"
PGSUPER_PW="super-$$"
pg_start() { # [SETTING...]
	[ -x "$PGBIN/initdb" ] || fail "PostgreSQL server binaries not found"
	PGPORT=$(free_port)
	mkdir -p "$PGDATA" && chown postgres "$PGDATA" && chmod 0711 "$WORK"
	echo "$PGSUPER_PW" > "$WORK/super.pw" && chown postgres "$WORK/super.pw"
	runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=scram-sha-256 \
		--pwfile="$WORK/super.pw" >/dev/null || fail "initdb failed"
	for setting in "$@"; do echo "$setting" >> "$PGDATA/postgresql.conf"; done
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w start \
		-o "-c listen_addresses=127.0.0.2 -c port=$PGPORT -c unix_socket_directories=$PGDATA" \
		>/dev/null || fail "PostgreSQL did not start: $(tail -n 5 "$PGDATA/server.log")"
	PG_STARTED=1
	echo "app-secret-$$" > "$WORK/app.pw" && chmod 0600 "$WORK/app.pw"
	pg_super -c "create role app login password 'app-secret-$$'" -c "create database orders owner app" \
		>/dev/null || fail "could not create role app"
}

# psql straight to the server as the superuser.
pg_super() {
	PGPASSWORD="$PGSUPER_PW" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" -U postgres -d postgres "$@"
}

pg_stop() {
	[ -n "${PG_STARTED:-}" ] || return 0
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1
	PG_STARTED=""
}

# A policy with the PostgreSQL above as target "orders-db" (tls.upstream
# MODE, default disable), credentials of "app", identity "job" on /$TAG,
# whose rule allows $PG_ALLOW (a JSON list body; default every class).
ALL_CLASSES='"read", "write", "ddl", "dcl", "session", "copy_in", "copy_out", "procedural", "admin"'
write_pg_policy() { # FILE LPORT [TLS-MODE [CA]]
	f=$1 lport=$2 mode=${3:-disable} ca=${4:-}
	{
		printf '{\n  "agent": { "listen": "127.0.0.1:%s", "listen6": "[::1]:%s",\n' "$lport" "$lport"
		printf '    "bpffs": "%s", "state_dir": "%s/state", "control_socket": "%s/control.sock",\n' "$BPFFS" "$WORK" "$WORK"
		printf '    "select": { "cgroups": ["/%s"] } },\n' "$TAG"
		printf '  "identities": [ { "name": "job", "match": { "cgroup": "/%s*" }, "roles": ["t"] } ],\n' "$TAG"
		printf '  "targets": [ { "name": "orders-db", "protocol": "postgres", "address": "127.0.0.2:%s",\n' "$PGPORT"
		if [ -n "$ca" ]; then
			printf '    "tls": { "upstream": "%s", "ca": "%s" },\n' "$mode" "$ca"
		else
			printf '    "tls": { "upstream": "%s" },\n' "$mode"
		fi
		printf '    "credentials": { "user": "app", "password_file": "%s/app.pw" } } ],\n' "$WORK"
		printf '  "rules": [ { "target": "orders-db", "roles": ["t"], "allow": [%s] } ]\n}\n' \
			"${PG_ALLOW:-$ALL_CLASSES}"
	} > "$f"
}

# The common stage of PostgreSQL tests: the server, the cgroup /$TAG, the
# policy with tls.upstream disable, and the agent (with AGENT-WRAPPER...
# before it, e.g. env SLUICE_DEBUG=1).
setup_pg() { # [AGENT-WRAPPER...]
	pg_start
	LPORT=$(free_port)
	mk_cgroup "/$TAG"
	write_pg_policy "$WORK/policy.json" "$LPORT"
	start_agent "$WORK/policy.json" "$@"
}

# A long psql session of the job, fed a line at a time: psql in cgroup CG
# (to the usual address, a password wrong on purpose), its output in OUT,
# what is written to fd 7 its input; LIVE is its pid. "exec 7>&-" ends it.
live_psql() { # CG OUT [PSQL ARGS...]
	cg=$1 out=$2
	shift 2
	rm -f "$WORK/live.fifo"
	mkfifo "$WORK/live.fifo" || fail "mkfifo"
	in_cgroup "$cg" env PGPASSWORD=x psql -X -h 127.0.0.2 -p "$PGPORT" -U whoever -d orders "$@" \
		< "$WORK/live.fifo" > "$out" 2>&1 &
	LIVE=$!
	PIDS="$LIVE $PIDS"
	exec 7> "$WORK/live.fifo"
}

# Tests that install the sluice package on this machine: never over one
# that is installed already; MADE_GROUPS are the package's groups that did
# not exist before, and go again in package_cleanup (with the package, and
# what the test put in /etc for it). PKG_DEB is the .deb of the build
# under test.
package_start() {
	dpkg-query -W -f='${Status}' sluice 2>/dev/null | grep -q installed &&
		fail "a sluice package is installed on this machine already: not touching it"
	MADE_GROUPS=""
	for g in sluice-approvers sluice-auditors; do
		getent group "$g" >/dev/null || MADE_GROUPS="$MADE_GROUPS $g"
	done
	SAN=0
	[ "$BUILD" = build-san ] && SAN=1
	PKG_DEB=$(packaging/deb/build.sh "$SAN" "$(cat VERSION)" "$WORK/dist" | tail -n 1) ||
		fail "make deb"
}

package_cleanup() {
	rm -rf /etc/sluice/secrets /etc/systemd/system/sluice.service.d
	dpkg -P sluice >/dev/null 2>&1
	for g in $MADE_GROUPS; do groupdel "$g" 2>/dev/null; done
}

# psql as the job: from cgroup /$TAG, to the usual address, with a password
# that is wrong on purpose. Extra arguments go to psql.
job_psql() {
	in_cgroup "/$TAG" env PGPASSWORD=not-the-password PGCONNECT_TIMEOUT=10 \
		psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.2 -p "$PGPORT" -U whoever -d orders "$@"
}
