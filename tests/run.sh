#!/bin/sh
# Run every test against each build folder given (build, build-san) and end
# with one line: "N passed, N failed". Exit status 0 only if none failed.
#
#   tests/run.sh build [build-san]      all tests
#   TESTS="t_basic t_ipv6" tests/run.sh build   a subset of integration tests
set -u
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "tests need root (BPF, cgroups)" >&2; exit 1; }

passed=0
failed=0
failures=""

record() { # NAME STATUS
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok    $1"
	else
		failed=$((failed + 1))
		failures="$failures $1"
		echo "FAIL  $1 (status $2)"
	fi
}

run_one() { # LABEL CMD...
	label=$1
	shift
	log=$(mktemp /tmp/sluice-run.XXXXXX)
	"$@" >"$log" 2>&1
	rc=$?
	record "$label" "$rc"
	[ "$rc" -eq 0 ] || sed 's/^/      /' "$log" | tail -40
	rm -f "$log"
}

for build in "$@"; do
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "$build: unit $(basename "$t")" "$t"
	done
	# OpenSSL is not built with ASan: the token verifier's calls into it
	# are checked by valgrind instead (the plain build only).
	case $build in *san*) ;; *)
		run_one "$build: unit test_jwt under valgrind" \
			valgrind -q --error-exitcode=9 --leak-check=full "$build/tests/test_jwt" ;;
	esac
	for t in tests/integration/t_*.sh; do
		name=$(basename "$t" .sh)
		if [ -n "${TESTS:-}" ]; then
			case " $TESTS " in *" $name "*) ;; *) continue ;; esac
		fi
		run_one "$build: $name" env SLUICE_BUILD="$build" sh "$t"
	done
done

# Fuzz targets: replay the seed corpus, then a short fresh run.
for f in build-fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus=tests/fuzz/corpus/${name#fuzz_}
	scratch=$(mktemp -d /tmp/sluice-fuzz.XXXXXX)
	run_one "fuzz $name (${FUZZ_SECONDS:-15}s)" \
		"$f" -max_total_time="${FUZZ_SECONDS:-15}" -timeout=10 "$scratch" "$corpus"
	rm -rf "$scratch"
done

# Tests leave nothing behind.
left=$(ls -d /sys/fs/bpf/sluice-test-* "$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)"/sluice-test-* 2>/dev/null)
procs=$(pgrep -a -f 'build(-san)?/(sluiced|tests/sluice-testnet) ' 2>/dev/null)
[ -z "$procs" ] || left="$left $procs"
if [ -n "$left" ]; then
	echo "left behind: $left"
	record "nothing left behind" 1
else
	record "nothing left behind" 0
fi

[ -z "$failures" ] || echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
