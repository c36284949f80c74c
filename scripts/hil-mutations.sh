#!/usr/bin/env bash
# Prove the HIL scenarios test something: break one safety mechanism at a time in a scratch
# worktree of HEAD, rebuild, and run the scenario that covers it. Every line should say FAIL.
# Usage: bash scripts/hil-mutations.sh   (after npm ci and npx tsx models/build-demo-policy.ts
# or with models/demo present; takes about a minute)
set -uo pipefail
repo=$(git rev-parse --show-toplevel)
scratch=$(mktemp -d /tmp/embody-mutations.XXXXXX)
git -C "$repo" worktree add -q "$scratch" HEAD
trap 'git -C "$repo" worktree remove --force "$scratch"' EXIT
ln -s "$repo/node_modules" "$scratch/node_modules"
mkdir -p "$scratch/models" && cp -r "$repo/models/demo" "$scratch/models/"
cd "$scratch" || exit 1

mutate() { # name file sed-expression scenario
  local name=$1 file=$2 expr=$3 scenario=$4
  git checkout -q -- src
  sed -i "$expr" "$file"
  if git diff --quiet -- src; then echo "== $name: the mutation did not apply (code changed?)"; return; fi
  npx tsc -p tsconfig.build.json >/dev/null 2>&1
  echo "== $name (mutated $file; ran $scenario)"
  node dist/src/cli.js hil "test/hil/scenarios/$scenario" 2>&1 | grep -E "FAIL|pass|scenarios passed" | head -6
}

mutate "e-stop line ignored" src/runtime/control-loop.ts 's/    if (level === this.#estopLevel) return;/    if (level === this.#estopLevel || level === 1) return;/' estop-press-latches-fault.yaml
mutate "rejection limit removed" src/runtime/control-loop.ts 's/if (++this.#rejections >= this.#maxRejections)/if (++this.#rejections >= Infinity)/' policy-nan.yaml
mutate "action staleness removed" src/runtime/control-loop.ts 's/const stale = tick - this.#lastFreshTick > this.#staleTicks ||/const stale = false \&\&/' policy-silent.yaml
mutate "camera staleness removed" src/runtime/policy/observation.ts 's/if (age > staleMs) return/if (age > Infinity) return/' camera-stall.yaml
mutate "standstill monitor removed" src/runtime/control-loop.ts 's/    if (tick - this.#restSinceTick < this.#settleTicks) return;/    return;/' standstill-push.yaml
mutate "following error removed" src/runtime/control-loop.ts 's/    if (!this.#following.violated(this.#state.position, this.#envelope.command)) return;/    return;/' joint-sensor-jump.yaml
mutate "jerk limit ignored" src/safety/envelope.ts 's/    let boxLo = a - J \* dt;/    let boxLo = a - 1e9 * dt;/' policy-out-of-range.yaml
mutate "watchdog always petted" src/runtime/systemd.ts 's/    const healthy = ticks > this.#lastTicks \&\& missed === this.#lastMissed;/    const healthy = true;/' loop-stall-watchdog.yaml
mutate "commands written before a measurement" src/runtime/control-loop.ts 's/if (this.#stopped || !this.#seeded) return;/if (this.#stopped) return;/' joint-error-at-power-up.yaml
mutate "hardware read error ignored" src/runtime/control-loop.ts 's/      if (this.#mode !== Mode.FAULT \&\& this.#mode !== Mode.STOPPED) this.#enter(tick, Mode.FAULT, Cause.HARDWARE_FAULT);/      void 0;/' joint-sensor-error.yaml
git checkout -q -- src
