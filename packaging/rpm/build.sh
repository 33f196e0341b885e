#!/bin/sh
# Build dist/sluice-VERSION-1.ARCH.rpm from this tree's build with rpmbuild
# (Debian's rpm package will do).
#
#   packaging/rpm/build.sh SAN VERSION OUTDIR      (make rpm)
set -eu
san=$1 version=$2 out=$3
cd "$(dirname "$0")/../.."
case $out in /*) ;; *) out=$PWD/$out ;; esac
work=$(mktemp -d /tmp/sluice-rpm.XXXXXX)
trap 'rm -rf "$work"' EXIT

make -s --no-print-directory install SAN="$san" DESTDIR="$work/stage" UNITDIR=/usr/lib/systemd/system
mkdir -p "$out"
rpmbuild -bb --quiet --define "_topdir $work/top" --define "stage $work/stage" \
	--define "version $version" --define "_rpmdir $out" \
	--define "_build_id_links none" --define "__os_install_post %{nil}" \
	packaging/rpm/sluice.spec 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
ls "$out"/*/sluice-"$version"-1.*.rpm
