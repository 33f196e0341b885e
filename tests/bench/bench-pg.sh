#!/bin/sh
# make bench-pg: measures, never asserts. One run prints
#   - pgbench TPS and average latency, select-only and TPC-B-like, each with
#     -M simple and -M prepared, 8 clients: direct to the server, through
#     sluice (the job's cgroup, same address, a wrong password), and through
#     PgBouncer in session mode; with the ratios sluice/direct and
#     sluice/pgbouncer;
#   - the same through sluice with a policy on (DDL denied, the column the
#     benchmark reads, pgbench_accounts.abalance, masked), with the ratios
#     to sluice with everything allowed and nothing masked, and to PgBouncer;
#   - sluiced's RSS per connection: 8 idle, 8 busy (pgbench) and 200 idle.
# Loopback only. The server runs with synchronous_commit=off so that TPC-B is
# bound by CPU and round trips (what a proxy adds), not by the disk. Clients
# use sslmode=disable on every path: the server has no TLS, and the agent
# would otherwise answer pgbench's default sslmode=prefer with TLS.
set -u
cd "$(dirname "$0")/../.."
SLUICE_BUILD=${1:-build}
. tests/lib.sh

SECS=${BENCH_SECONDS:-10}   # per cell of the table
SCALE=${BENCH_SCALE:-10}    # pgbench -i -s
CLIENTS=8
IDLE=${BENCH_IDLE:-200}     # idle connections for the RSS measure
PGBOUNCER=/usr/sbin/pgbouncer
[ -x "$PGBOUNCER" ] || fail "pgbouncer not installed (apt-get install pgbouncer)"
export PGSSLMODE=disable PGCONNECT_TIMEOUT=10

# PgBouncer is ours to stop (lib.sh's cleanup knows nothing of it); it must
# go before cleanup removes its folder.
BOUNCER_PID=""
bouncer_stop() {
	[ -n "$BOUNCER_PID" ] || return 0
	kill -TERM "$BOUNCER_PID" 2>/dev/null
	n=100
	while kill -0 "$BOUNCER_PID" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
	kill -KILL "$BOUNCER_PID" 2>/dev/null
	BOUNCER_PID=""
}
trap 'bouncer_stop; cleanup' EXIT

# The server, room for the idle connections, and pgbench's tables.
pg_start "max_connections = $((IDLE + 20))" "synchronous_commit = off"
APP_PW=$(cat "$WORK/app.pw")
PGPASSWORD="$APP_PW" "$PGBIN/pgbench" -i -q -s "$SCALE" -h 127.0.0.2 -p "$PGPORT" -U app orders \
	>"$WORK/init.log" 2>&1 || fail "pgbench -i failed: $(tail -n 3 "$WORK/init.log")"

# The agent, selecting cgroup /$TAG, with the server as target "orders-db".
LPORT=$(free_port)
mk_cgroup "/$TAG"
write_pg_policy "$WORK/policy.json" "$LPORT"
start_agent "$WORK/policy.json"

# PgBouncer in session mode on 127.0.0.1, run as postgres (it refuses root),
# from files postgres owns: scram-sha-256 to the client with app's password
# from the auth_file, and the same password to log in to the server.
BPORT=$(free_port)
BDIR="$WORK/pgbouncer"
mkdir -p "$BDIR"
cat > "$BDIR/pgbouncer.ini" <<EOF
[databases]
orders = host=127.0.0.2 port=$PGPORT dbname=orders
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BPORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $BDIR/userlist.txt
pool_mode = session
max_client_conn = 100
default_pool_size = 20
server_tls_sslmode = disable
logfile = $BDIR/pgbouncer.log
pidfile = $BDIR/pgbouncer.pid
EOF
printf '"app" "%s"\n' "$APP_PW" > "$BDIR/userlist.txt"
chmod 0600 "$BDIR/userlist.txt"
chown -R postgres "$BDIR"
runuser -u postgres -- "$PGBOUNCER" -d -q "$BDIR/pgbouncer.ini" ||
	fail "pgbouncer did not start: $(tail -n 3 "$BDIR/pgbouncer.log" 2>/dev/null)"
wait_for "$BDIR/pgbouncer.pid" '[0-9]' || fail "pgbouncer wrote no pid file"
BOUNCER_PID=$(cat "$BDIR/pgbouncer.pid")
n=100
until PGPASSWORD="$APP_PW" psql -X -q -h 127.0.0.1 -p "$BPORT" -U app -d orders -c "select 1" >/dev/null 2>&1; do
	n=$((n - 1))
	[ $n -gt 0 ] || fail "no login through pgbouncer: $(tail -n 3 "$BDIR/pgbouncer.log")"
	sleep 0.1
done

# pgbench through one of the three ways; its output goes to OUT.
pgbench_via() { # WAY(direct|sluice|pgbouncer) OUT ARGS...
	way=$1 out=$2
	shift 2
	case "$way" in
	direct) env PGPASSWORD="$APP_PW" "$PGBIN/pgbench" -h 127.0.0.2 -p "$PGPORT" -U app "$@" orders ;;
	sluice) in_cgroup "/$TAG" env PGPASSWORD=not-the-password \
		"$PGBIN/pgbench" -h 127.0.0.2 -p "$PGPORT" -U whoever "$@" orders ;;
	pgbouncer) env PGPASSWORD="$APP_PW" "$PGBIN/pgbench" -h 127.0.0.1 -p "$BPORT" -U app "$@" orders ;;
	esac >"$out" 2>&1
}

# One cell: sets TPS and LAT (ms), or "fail" with pgbench's last words on
# stderr (a failed cell is reported, not fatal).
cell() { # WAY SCRIPT(select|tpcb) MODE
	out="$WORK/pgbench.$1.$2.$3"
	s=""
	[ "$2" = select ] && s="-S"
	rc=0
	pgbench_via "$1" "$out" -n -c "$CLIENTS" -j 2 -T "$SECS" -M "$3" $s || rc=$?
	TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | tail -n 1)
	LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
	if [ "$rc" -ne 0 ] || [ -z "$TPS" ] || [ "${failed:-0}" -ne 0 ]; then
		note "pgbench $1 $2 -M $3 (status $rc):"
		grep -E 'error|FATAL|abort|failed' "$out" | sort | uniq -c | head -n 5 >&2
		TPS=fail LAT=fail
	fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
num() { awk -v a="$1" -v f="$2" 'BEGIN { if (a ~ /^[0-9.]+$/) printf f, a; else print a }'; }

label() { echo "$([ "$1" = select ] && echo select-only || echo tpc-b) -M $2"; }

ROWS=""
for script in select tpcb; do
	for mode in simple prepared; do
		cell direct "$script" "$mode"; td=$TPS ld=$LAT
		cell sluice "$script" "$mode"; ts=$TPS ls=$LAT
		cell pgbouncer "$script" "$mode"; tb=$TPS lb=$LAT
		eval "SLUICE_$script$mode=$ts BOUNCER_$script$mode=$tb"
		ROWS="$ROWS$(printf '%-24s %9s %9s %9s %7s %7s %8s %8s %8s' "$(label "$script" "$mode")" \
			"$(num "$td" %.0f)" "$(num "$ts" %.0f)" "$(num "$tb" %.0f)" \
			"$(ratio "$ts" "$td")" "$(ratio "$ts" "$tb")" \
			"$(num "$ld" %.3f)" "$(num "$ls" %.3f)" "$(num "$lb" %.3f)")
"
	done
done
bouncer_stop

# The policy on: DDL denied, the column pgbench reads masked.
stop_agent
python3 - "$WORK/policy.json" "$WORK/policy-on.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["rules"][0]["deny"] = ["ddl"]
p["rules"][0]["mask"] = [{"column": "pgbench_accounts.abalance"}]
json.dump(p, open(sys.argv[2], "w"), indent=1)
PY
start_agent "$WORK/policy-on.json"
job_psql -c "create table denied (a int)" >/dev/null 2>&1 && fail "the policy-on agent allowed DDL"
[ "$(job_psql -At -c "select abalance from pgbench_accounts where aid = 1")" = "" ] ||
	fail "the policy-on agent did not mask abalance"
PROWS=""
for script in select tpcb; do
	for mode in simple prepared; do
		cell sluice "$script" "$mode"
		eval "ts=\$SLUICE_$script$mode tb=\$BOUNCER_$script$mode"
		PROWS="$PROWS$(printf '%-24s %9s %9s %7s %7s %8s' "$(label "$script" "$mode")" \
			"$(num "$ts" %.0f)" "$(num "$TPS" %.0f)" "$(ratio "$TPS" "$ts")" \
			"$(ratio "$TPS" "$tb")" "$(num "$LAT" %.3f)")
"
	done
done
stop_agent
start_agent "$WORK/policy.json"

# RSS of sluiced, in KiB.
agent_rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$AGENT_PID/status"; }

# Client backends of app on the server (each one a session through sluice).
app_sessions() {
	pg_super -At -c "select count(*) from pg_stat_activity where usename = 'app' and backend_type = 'client backend'"
}

# A fresh agent, warmed by one session (one-time costs: TLS contexts, first
# allocations), then its idle RSS in IDLE_RSS.
fresh_agent() {
	stop_agent
	start_agent "$WORK/policy.json"
	job_psql -c "select 1" >/dev/null || fail "warm-up session through sluice failed"
	sleep 0.5
	IDLE_RSS=$(agent_rss)
}

# N idle sessions through sluice (pgbench clients that only \sleep), held
# until measured: sets RSS (KiB, with the N open).
rss_idle() { # N
	fresh_agent
	printf '\\sleep 1 s\n' > "$WORK/idle.sql"
	# in_cgroup's body, inline: $! must be pgbench itself (the shell execs it),
	# not a subshell that would leave pgbench behind when killed.
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG_ROOT/$TAG" \
		env PGPASSWORD=not-the-password "$PGBIN/pgbench" -h 127.0.0.2 -p "$PGPORT" \
		-U whoever -n -f "$WORK/idle.sql" -c "$1" -j 2 -T 300 orders >"$WORK/idle.$1.log" 2>&1 &
	hold=$!
	PIDS="$hold $PIDS"
	n=600
	while [ "$(app_sessions)" -lt "$1" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
	[ $n -gt 0 ] || note "only $(app_sessions) of $1 sessions opened: $(tail -n 2 "$WORK/idle.$1.log")"
	sleep 1
	RSS=$(agent_rss)
	kill -TERM "$hold" 2>/dev/null
	wait "$hold" 2>/dev/null
}

# 8 busy sessions (TPC-B, simple): sets RSS to the highest of samples taken
# while the load runs.
rss_busy() {
	fresh_agent
	pgbench_via sluice "$WORK/busy.log" -n -c "$CLIENTS" -j 2 -T 4 -M simple &
	busy=$!
	sleep 1
	RSS=0
	for i in 1 2 3 4 5; do
		r=$(agent_rss)
		[ "$r" -gt "$RSS" ] && RSS=$r
		sleep 0.4
	done
	wait "$busy" || note "busy pgbench failed: $(tail -n 2 "$WORK/busy.log")"
}

rss_row() { # LABEL N
	printf '%-32s %9s %9s %12s\n' "$1" "$IDLE_RSS" "$RSS" \
		"$(awk -v a="$RSS" -v b="$IDLE_RSS" -v n="$2" 'BEGIN { printf "%.1f", (a - b) / n }')"
}

rss_idle "$CLIENTS"; R1=$(rss_row "$CLIENTS idle connections" "$CLIENTS")
rss_busy; R2=$(rss_row "$CLIENTS busy connections (tpc-b)" "$CLIENTS")
rss_idle "$IDLE"; R3=$(rss_row "$IDLE idle connections" "$IDLE")
stop_agent

printf '\npgbench, %s clients -j 2, %s s per cell, scale %s (%s cores, loopback; PgBouncer %s, session mode)\n' \
	"$CLIENTS" "$SECS" "$SCALE" "$(nproc)" "$("$PGBOUNCER" --version | sed -n '1s/^PgBouncer //p')"
printf '%-24s %9s %9s %9s %7s %7s %8s %8s %8s\n' "" "tps" "tps" "tps" "sluice/" "sluice/" \
	"lat ms" "lat ms" "lat ms"
printf '%-24s %9s %9s %9s %7s %7s %8s %8s %8s\n' "script, mode" direct sluice pgbouncer direct pgbncr \
	direct sluice pgbouncer
printf '%s' "$ROWS"
printf '\nsluice with the policy on (DDL denied, pgbench_accounts.abalance masked)\n'
printf '%-24s %9s %9s %7s %7s %8s\n' "" "tps" "tps" "on/" "on/" "lat ms"
printf '%-24s %9s %9s %7s %7s %8s\n' "script, mode" "off" "on" "off" "pgbncr" "on"
printf '%s' "$PROWS"
printf '\n%-32s %9s %9s %12s\n' "sluiced RSS (VmRSS, KiB)" idle open "per conn"
printf '%s\n%s\n%s\n' "$R1" "$R2" "$R3"
