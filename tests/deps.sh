#!/bin/sh
# Install every build and test dependency from Debian's packages.
# Idempotent: apt runs only when something is missing.
set -eu

PACKAGES="make gcc clang llvm libclang-rt-14-dev pkg-config bpftool
libbpf-dev libelf-dev zlib1g-dev libssl-dev libcjson-dev libsystemd-dev
libpg-query-dev libpq-dev iproute2 procps util-linux postgresql postgresql-client
openssl pgbouncer python3 asciinema lintian rpm dpkg-dev man-db systemd valgrind"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$missing; run as root (sudo make deps)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
