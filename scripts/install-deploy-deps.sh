#!/usr/bin/env bash
# The deploy test's own packages (npm run test:deploy): a Debian root booted with systemd-nspawn,
# Ansible over SSH. Kept apart from install-test-deps.sh so `npm test` does not pay for them.
set -euo pipefail
bash "$(dirname "$0")/install-test-deps.sh"

declare -A package_for=(
  [debootstrap]=debootstrap
  [systemd-nspawn]=systemd-container
  [ansible-playbook]=ansible-core
  [ansible-lint]=ansible-lint
  [ssh]=openssh-client
  [ssh-keygen]=openssh-client
)
missing=()
for command in "${!package_for[@]}"; do
  command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ] || missing+=("${package_for[$command]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t unique < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "install-deploy-deps: installing ${unique[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${unique[@]}"
fi
