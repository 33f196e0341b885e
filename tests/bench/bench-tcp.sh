#!/bin/sh
# make bench-tcp: measures, never asserts. One run prints
#   - throughput and connections/s, direct vs through the agent (ratio);
#   - connect() cost of an unselected process, programs attached vs not.
# Loopback only. The load client hashes every byte (SHA-256) to prove the
# relay byte-exact, so throughput is bounded by hashing on both paths.
set -u
cd "$(dirname "$0")/../.."
SLUICE_BUILD=${1:-build}
. tests/lib.sh

BYTES=${BENCH_BYTES:-268435456}   # per connection, throughput run
STREAMS=${BENCH_STREAMS:-4}
CONNS=${BENCH_CONNS:-5000}
CONNECTS=${BENCH_CONNECTS:-20000}

setup_echo

field() { # LINE KEY
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

load() { # WHERE(direct|agent) ARGS...
	where=$1
	shift
	if [ "$where" = agent ]; then
		in_cgroup "/$TAG" "$TESTNET" load 127.0.0.2 "$SPORT" "$@"
	else
		"$TESTNET" load 127.0.0.2 "$SPORT" "$@"
	fi
}

# Best of three: connect() cost is small and the machine is not quiet.
connect_ns() {
	best=""
	for i in 1 2 3; do
		ns=$(field "$("$TESTNET" connect-rate 127.0.0.2 "$SPORT" --count "$CONNECTS")" ns_per_connect)
		[ -z "$best" ] || [ "$ns" -lt "$best" ] && best=$ns
	done
	echo "$best"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# connect() of an unselected process before anything is attached.
c0=$(connect_ns)

start_agent "$WORK/policy.json"
c1=$(connect_ns)

t_direct=$(field "$(load direct --conns "$STREAMS" --bytes "$BYTES")" mib_per_s)
t_agent=$(field "$(load agent --conns "$STREAMS" --bytes "$BYTES")" mib_per_s)
r_direct=$(field "$(load direct --conns "$CONNS" --bytes 1024 --parallel 100)" conns_per_s)
r_agent=$(field "$(load agent --conns "$CONNS" --bytes 1024 --parallel 100)" conns_per_s)
stop_agent

printf '\n%-44s %12s %12s %8s\n' "tcp relay ($(nproc) cores, loopback)" direct sluice ratio
printf '%-44s %12s %12s %8s\n' "throughput MiB/s ($STREAMS x $((BYTES >> 20)) MiB each way)" \
	"$t_direct" "$t_agent" "$(ratio "$t_agent" "$t_direct")"
printf '%-44s %12s %12s %8s\n' "connections/s ($CONNS x 1 KiB, 100 at once)" \
	"$r_direct" "$r_agent" "$(ratio "$r_agent" "$r_direct")"
printf '\n%-44s %12s %12s %8s\n' "connect() of an unselected process" detached attached ratio
printf '%-44s %12s %12s %8s\n' "ns per connect (best of 3 x $CONNECTS)" "$c0" "$c1" "$(ratio "$c1" "$c0")"
