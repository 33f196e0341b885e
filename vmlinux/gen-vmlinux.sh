#!/bin/sh
# Regenerate vmlinux/<arch>/vmlinux.h from the running kernel's BTF.
# The header is vendored so that builds do not depend on the build host's
# kernel; CO-RE relocates field offsets at load time on the target kernel.
set -eu
ARCH=${1:-$(uname -m)}
BTF=${BTF:-/sys/kernel/btf/vmlinux}
DIR=$(dirname "$0")/$ARCH

[ -r "$BTF" ] || { echo "gen-vmlinux: $BTF not readable: kernel built without BTF?" >&2; exit 1; }
mkdir -p "$DIR"
bpftool btf dump file "$BTF" format c > "$DIR/vmlinux.h.tmp"
mv "$DIR/vmlinux.h.tmp" "$DIR/vmlinux.h"
echo "wrote $DIR/vmlinux.h from $BTF ($(uname -r))"
