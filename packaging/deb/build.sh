#!/bin/sh
# Build dist/sluice_VERSION_ARCH.deb from this tree's build, with dpkg-deb
# (no debian/ source package: the tree is the source).
#
#   packaging/deb/build.sh SAN VERSION OUTDIR      (make deb)
set -eu
san=$1 version=$2 out=$3
cd "$(dirname "$0")/../.."
arch=$(dpkg --print-architecture)
work=$(mktemp -d /tmp/sluice-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
stage=$work/debian/sluice   # where dpkg-shlibdeps expects a package's files

make -s --no-print-directory install SAN="$san" DESTDIR="$stage" UNITDIR=/lib/systemd/system

# A native package's changelog, from VERSION and the last commit's date.
date=$(git log -1 --format=%cD 2>/dev/null || date -R)
printf 'sluice (%s) stable; urgency=medium\n\n  * Release %s: see /usr/share/doc/sluice/README.md.\n\n -- sluice developers <sluice-devel@sluice.example.com>  %s\n' \
	"$version" "$version" "$date" | gzip -9n > "$stage/usr/share/doc/sluice/changelog.gz"
chmod 0644 "$stage/usr/share/doc/sluice/changelog.gz"

# Library dependencies as Debian knows them.
mkdir -p "$work/debian"
printf 'Source: sluice\n\nPackage: sluice\nArchitecture: any\n' > "$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O debian/sluice/usr/sbin/sluiced \
	debian/sluice/usr/bin/sluicectl debian/sluice/usr/bin/sluice-replay 2>"$work/shlibs.err" |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { cat "$work/shlibs.err" >&2; echo "deb: no library dependencies found" >&2; exit 1; }

install -d -m 0755 "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: sluice
Version: $version
Architecture: $arch
Maintainer: sluice developers <sluice-devel@sluice.example.com>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $shlibs, adduser
Section: admin
Priority: optional
Description: see and decide what build jobs do to production databases
 sluice redirects the connections of selected jobs (CI runners, bots,
 service accounts) to an agent on the same host with eBPF programs on
 cgroups; the job's own client is not changed. The agent knows who is
 calling (cgroup, unit, container, user, executable, verified OIDC token),
 logs in to the database with credentials the job never holds, and
 enforces the policy on every statement: allow, deny, hold for a person's
 approval, mask columns. Every session is recorded, tamper-evident, and
 every decision logged to journald. PostgreSQL and plain TCP targets.
CONTROL
echo /etc/sluice/policy.json > "$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
	install -m 0755 "packaging/deb/$script" "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort |
	xargs md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/sluice_${version}_${arch}.deb" >/dev/null
echo "$out/sluice_${version}_${arch}.deb"
