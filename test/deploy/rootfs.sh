#!/usr/bin/env bash
# Build (once) the Debian root the deploy test boots with systemd-nspawn: a stand-in for a fresh
# robot SD card image (systemd as PID 1, sshd, python3 for Ansible, sudo). Cached under
# $EMBODY_TEST_ROOTFS (default /var/cache/embody-test/rootfs) and reused while its stamp matches
# this script's package list; built in a temporary directory and renamed, so an interrupted
# debootstrap never leaves a half root behind. Cold, on a 2-core machine: about a minute.
set -euo pipefail

root=$(realpath -m "${EMBODY_TEST_ROOTFS:-/var/cache/embody-test/rootfs}")
suite=bookworm
mirror=${EMBODY_TEST_MIRROR:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv,dbus,openssh-server,python3,sudo,ca-certificates
stamp="$suite $packages"

if [ -f "$root/.embody-test-stamp" ] && [ "$(cat "$root/.embody-test-stamp")" = "$stamp" ]; then
  echo "rootfs: reusing $root"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "rootfs: debootstrap needs root" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "rootfs: debootstrap is missing (scripts/install-test-deps.sh installs it)" >&2; exit 1; }

parent=$(dirname "$root")
mkdir -p "$parent"
# Downloaded packages are kept (and reused by a retry, or a rebuild after the package list
# changed); a slow or dropped mirror gets three tries of at most 15 minutes each.
debs="$parent/debootstrap-debs"
mkdir -p "$debs"
work=$(mktemp -d "$parent/.rootfs-build.XXXXXX")
# debootstrap may leave mounts (proc, sys) in a failed root: never rm -rf through them.
remove_work() {
  local mount
  for mount in $(awk -v w="$work" '$2 == w || index($2, w "/") == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$mount" || true
  done
  rm -rf "$work"
}
trap 'remove_work; rm -f "$work.log"' EXIT
for attempt in 1 2 3; do
  echo "rootfs: debootstrap $suite into $work (about a minute; attempt $attempt of 3)"
  if timeout 900 debootstrap --variant=minbase --include="$packages" --cache-dir="$debs" "$suite" "$work" "$mirror" >"$work.log" 2>&1; then
    break
  fi
  tail -n 30 "$work.log" >&2
  if [ "$attempt" -eq 3 ]; then
    echo "rootfs: debootstrap failed three times (mirror $mirror; set EMBODY_TEST_MIRROR for another)" >&2
    exit 1
  fi
  remove_work
  mkdir "$work"
  sleep $((attempt * 15))
done
rm -f "$work.log"
# What every copy needs and a real image has: a clean machine-id (systemd fills it at first
# boot), no apt caches.
: >"$work/etc/machine-id"
rm -rf "$work/var/cache/apt/archives/"*.deb "$work/var/lib/apt/lists/"*
# mktemp made the directory 0700: as the container's / that would lock every non-root user out.
chmod 0755 "$work"
echo "$stamp" >"$work/.embody-test-stamp"
rm -rf "$root"
mv "$work" "$root"
trap - EXIT
echo "rootfs: ready at $root"
