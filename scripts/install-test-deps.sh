#!/usr/bin/env bash
# Pretest: install the Debian packages whose real programs the tests start (a test that needs an
# absent part fails, it never skips), the deploy test's included (test/deploy: a Debian root
# booted with systemd-nspawn, Ansible over SSH, a TLS broker), and the Python openpi protocol peer
# (test/support/openpi_peer.py, run with /usr/bin/python3). Idempotent: installs only what is
# missing, runs `apt-get update` at most once, and retries a slow or flaky mirror.
set -euo pipefail

declare -A package_for=(
  [mosquitto]=mosquitto
  [mosquitto_sub]=mosquitto-clients
  [mosquitto_passwd]=mosquitto
  [ffmpeg]=ffmpeg
  [gst-launch-1.0]="gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good"
  [cyclictest]=rt-tests
  [gpiomon]=gpiod
  # The live page: Prometheus' own parser judges /metrics; a real browser drives the page.
  [promtool]=prometheus
  [chromium]=chromium
  # The deploy test (test/deploy/deploy.test.ts).
  [debootstrap]=debootstrap
  [systemd-nspawn]=systemd-container
  [ansible-playbook]=ansible-core
  [ansible-lint]=ansible-lint
  [ssh]=openssh-client
  [ssh-keygen]=openssh-client
  [openssl]=openssl
  [tar]=tar
  [gzip]=gzip
  # The Feetech bus tests (test/hal/feetech): the driver sets termios with stty, the STS3215 bus
  # model runs under chrt -f.
  [stty]=coreutils
  [chrt]=util-linux
)

has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

missing=()
for command in "${!package_for[@]}"; do
  if ! has "$command"; then
    # shellcheck disable=SC2206
    missing+=(${package_for[$command]})
  fi
done

# The STS3215 bus model (scripts/feetech-bus-model.py) runs on Debian's python3: the python3 on
# PATH may be another build (pyenv), so look for /usr/bin/python3 itself.
if [ ! -x /usr/bin/python3 ]; then missing+=(python3); fi

# Packages with no command of their own: ask dpkg. GStreamer plugins (videotestsrc, rawvideo caps
# and friends); the keyring debootstrap checks the bookworm Release file with; the Python modules
# of the openpi protocol peer.
for package in gstreamer1.0-plugins-base gstreamer1.0-plugins-good debian-archive-keyring python3-msgpack python3-websockets python3-numpy; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all test programs present"
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing Debian packages: ${missing[*]}" >&2
  echo "  install them as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A slow or dropped mirror: apt retries each download, and the whole step is tried three times.
apt_options=(-o Acquire::Retries=5 -o Acquire::http::Timeout=60 -o Dpkg::Use-Pty=0)
for attempt in 1 2 3; do
  if apt-get "${apt_options[@]}" update -qq &&
    apt-get "${apt_options[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    break
  fi
  if [ "$attempt" -eq 3 ]; then
    echo "install-test-deps: apt-get failed three times" >&2
    exit 1
  fi
  echo "install-test-deps: apt-get failed (attempt $attempt), retrying in $((attempt * 15)) s" >&2
  sleep $((attempt * 15))
done

still_missing=()
for command in "${!package_for[@]}"; do
  has "$command" || still_missing+=("$command")
done
if [ ${#still_missing[@]} -gt 0 ]; then
  echo "install-test-deps: installed packages but still missing: ${still_missing[*]}" >&2
  exit 1
fi
echo "install-test-deps: installed ${missing[*]}"
