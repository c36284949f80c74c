#!/usr/bin/env bash
# Pretest: install the Debian packages whose real programs the tests start (a test that needs an
# absent part fails, it never skips). Idempotent: installs only what is missing, and runs
# `apt-get update` at most once.
set -euo pipefail

declare -A package_for=(
  [mosquitto]=mosquitto
  [mosquitto_sub]=mosquitto-clients
  [ffmpeg]=ffmpeg
  [gst-launch-1.0]="gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good"
  [cyclictest]=rt-tests
  [gpiomon]=gpiod
)

missing=()
for command in "${!package_for[@]}"; do
  if ! command -v "$command" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command" ]; then
    # shellcheck disable=SC2206
    missing+=(${package_for[$command]})
  fi
done

# Plugins have no command of their own: ask dpkg (videotestsrc, rawvideo caps and friends).
for package in gstreamer1.0-plugins-base gstreamer1.0-plugins-good; do
  if [[ " ${missing[*]} " != *" $package "* ]] &&
    ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all test programs present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing Debian packages: ${missing[*]}" >&2
  echo "  install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

still_missing=()
for command in "${!package_for[@]}"; do
  if ! command -v "$command" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command" ]; then
    still_missing+=("$command")
  fi
done
if [ ${#still_missing[@]} -gt 0 ]; then
  echo "install-test-deps: installed packages but still missing: ${still_missing[*]}" >&2
  exit 1
fi
echo "install-test-deps: installed ${missing[*]}"
