#!/usr/bin/env bash
# Prove the HIL scenarios test something: break one safety mechanism at a time in a scratch
# worktree of HEAD, rebuild, and run the scenario that covers it. Every line should say FAIL.
# Usage: bash scripts/hil-mutations.sh [--working-tree]   (after npm ci, with models/demo and
# models/pi-demo present; takes a few minutes). --working-tree mutates a copy of the working tree,
# uncommitted changes included, instead of HEAD.
set -uo pipefail
repo=$(git rev-parse --show-toplevel)
scratch=$(mktemp -d /tmp/embody-mutations.XXXXXX)
if [ "${1:-}" = "--working-tree" ]; then
  trap 'rm -rf "$scratch"' EXIT
  (cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$scratch"
  git -C "$scratch" init -q && git -C "$scratch" add -A && git -C "$scratch" -c user.name=m -c user.email=m@m commit -qm base
else
  git -C "$repo" worktree add -q "$scratch" HEAD
  trap 'git -C "$repo" worktree remove --force "$scratch"' EXIT
fi
ln -s "$repo/node_modules" "$scratch/node_modules"
mkdir -p "$scratch/models"
for policy in demo pi-demo; do [ -d "$repo/models/$policy" ] && cp -r "$repo/models/$policy" "$scratch/models/"; done
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
# The I2C drivers on the emulated chips (robots/pi-servo-arm.yaml, hal: emulated).
mutate "I2C retries removed" src/hal/bus/base.ts 's/if (attempt > this.retries || !isRetryable(code))/if (attempt > 0 || !isRetryable(code))/' i2c-nack-burst-absorbed.yaml
mutate "ADS1115 hung converter ignored" src/hal/devices/ads1115.ts 's/if (++this.#waiting > this.#maxWait)/if (++this.#waiting > Infinity)/' i2c-adc-stale.yaml
mutate "servo rail brown-out ignored" src/hal/devices/servo-arm.ts 's/if (supply\[Supply.VOLTS\] < this.#k\[K.BROWNOUT_V\])/if (false)/' servo-rail-brownout.yaml
mutate "/OE kept asserted on a category-0 stop" src/hal/devices/servo-arm.ts 's/        pca.enableOutputs(false);/        void 0;/' servo-arm-estop-outputs-off.yaml
mutate "INA219 identity not checked at open" src/hal/devices/servo-arm.ts 's/      this.#power.open();/      void 0;/' i2c-wrong-id-at-power-up.yaml
git checkout -q -- src
