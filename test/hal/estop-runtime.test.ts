/**
 * The whole e-stop path on this machine, end to end: the built CLI (`embody run`, its control
 * worker and the demo policy on the simulated arm) with its e-stop input and brake output on
 * sysfs GPIO lines. This machine has no GPIO, so, as in gpio-sysfs.test.ts, the test starts a
 * private mount namespace (`unshare --mount`, we are root), mounts a tmpfs over /sys/class there,
 * runs test/support/gpio-sysfs-model.ts on /sys/class/gpio, and starts the runtime inside it.
 *
 * The robot is robots/sim-arm.yaml with `estop` on pinctrl-bcm2711 line 17 (global 529, active
 * low, category 0) and `brake_output` on line 18 (global 530). Once the trace shows RUNNING, the
 * test pulls the e-stop's pin to ground, then checks the report, the per-tick trace and what the
 * runtime wrote to the lines (the model's journal, the brake's pin and value file).
 *
 * The model is told that line 529 starts active-low (`--active-low 529`): it applies the client's
 * `active_low` write a poll later, where the kernel applies it inside write(), and the runtime
 * samples `value` right after writing it; without that, the released e-stop reads pressed for a
 * millisecond at open and the loop trips in BOOT. The journal still shows the runtime's write.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(repo, 'dist/src/cli.js');

const CHIP = 'pinctrl-bcm2711';
const BASE = 512;
const ESTOP_LINE = 17;
const BRAKE_LINE = 18;
const ESTOP = BASE + ESTOP_LINE; // 529
const BRAKE = BASE + BRAKE_LINE; // 530
const DURATION_S = 6;

/** Runs inside the namespace: tmpfs over /sys/class, the model, then the runtime. */
const NAMESPACE_SCRIPT = String.raw`
set -e
mount -t tmpfs -o mode=0755 embody-estop-test /sys/class
mkdir /sys/class/gpio
node --import tsx test/support/gpio-sysfs-model.ts --root /sys/class/gpio --pins "$PINS" \
  --journal "$JOURNAL" --ready "$READY" --chips "$CHIPS" --active-low "$ACTIVE_LOW" 2>"$WORK/model.err" &
model=$!
trap 'kill $model 2>/dev/null || true' EXIT
i=0
while [ ! -e "$READY" ]; do
  i=$((i + 1))
  if [ $i -gt 1500 ] || ! kill -0 $model 2>/dev/null; then echo "the sysfs model did not start:" >&2; cat "$WORK/model.err" >&2; exit 97; fi
  sleep 0.01
done
set +e
node "$CLI" run --robot "$ROBOT" --duration "$DURATION" --report "$WORK/report.json" --trace "$WORK/trace.jsonl" \
  --broker none >"$WORK/cli.out" 2>"$WORK/cli.err"
code=$?
# The model polls: give it the last number the runtime wrote to unexport before stopping it.
i=0
while [ -s /sys/class/gpio/unexport ] && [ $i -lt 200 ]; do i=$((i + 1)); sleep 0.005; done
exit $code
`;

interface TraceLine {
  tick: number;
  mode: string;
  estop: number;
  powered: number;
}

interface Report {
  transitions: { tick: number; from: string; to: string; cause: string }[];
  safety_interventions: { estop_trips: number };
  final_mode: string;
  controlled_shutdown: boolean;
  hardware_errors: number;
  trace?: { lines: number; lost: number };
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The sim arm with its e-stop and brake on the model's GPIO lines; the policy path made absolute. */
function writeRobot(file: string): void {
  const robot = parse(readFileSync(join(repo, 'robots/sim-arm.yaml'), 'utf8')) as Record<string, unknown>;
  robot.estop = { kind: 'gpio', chip: CHIP, line: ESTOP_LINE, active_low: true, debounce_ms: 5, backend: 'sysfs', stop_category: 0 };
  robot.brake_output = { kind: 'gpio', chip: CHIP, line: BRAKE_LINE, active_low: false, backend: 'sysfs' };
  robot.policy = { ...(robot.policy as Record<string, unknown>), manifest: join(repo, 'models/demo/policy.yaml') };
  writeFileSync(file, stringify(robot));
}

describe('embody run with a sysfs GPIO e-stop (private mount namespace, tmpfs model of /sys/class/gpio)', () => {
  const work = mkdtempSync(join(tmpdir(), 'embody-estop-run-'));
  const pins = join(work, 'pins');
  const journal = join(work, 'journal');
  const ready = join(work, 'ready');
  let groupToKill: number | undefined;

  afterAll(() => {
    if (groupToKill !== undefined) {
      try {
        // The runtime ignores a first SIGTERM until its loop is ready: kill the namespace's group.
        process.kill(-groupToKill, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('a press while RUNNING latches FAULT with power cut in the same tick, and the brake line drops to 0', async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
    mkdirSync(pins);
    writeFileSync(journal, '');
    // Released e-stop: an active-low line held high. The brake starts at its safe level.
    writeFileSync(join(pins, `gpio${ESTOP}`), '1\n');
    writeFileSync(join(pins, `gpio${BRAKE}`), '0\n');
    const robotFile = join(work, 'robot.yaml');
    writeRobot(robotFile);

    const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', NAMESPACE_SCRIPT], {
      cwd: repo,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        WORK: work,
        PINS: pins,
        JOURNAL: journal,
        READY: ready,
        CHIPS: JSON.stringify([{ base: BASE, label: CHIP, ngpio: 54 }]),
        ACTIVE_LOW: String(ESTOP),
        CLI: cli,
        ROBOT: robotFile,
        DURATION: String(DURATION_S),
      },
    });
    groupToKill = child.pid;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exitCode = code))));

    const journalLines = (): string[] => read(journal).split('\n').filter((l) => l !== '');
    const diagnostics = (): string =>
      `\nnamespace exit: ${String(exitCode)}; stderr: ${stderr}` +
      `\nruntime stdout:\n${read(join(work, 'cli.out')).slice(-4000)}\nruntime stderr:\n${read(join(work, 'cli.err')).slice(-2000)}` +
      `\nmodel stderr: ${read(join(work, 'model.err'))}\njournal:\n${journalLines().join('\n')}`;
    const until = async (what: string, done: () => boolean, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!done()) {
        if (exitCode !== undefined) throw new Error(`the run ended before ${what}${diagnostics()}`);
        if (Date.now() > deadline) {
          throw new Error(
            `${what} did not happen within ${timeoutMs} ms. If the runtime printed nothing, its loop may have ` +
              `tripped in BOOT: it then never reports ready and ignores --duration and a first SIGTERM.${diagnostics()}`,
          );
        }
        await sleep(10);
      }
    };

    // The policy drives the arm: the trace shows RUNNING.
    const tracePath = join(work, 'trace.jsonl');
    await until('RUNNING in the trace', () => read(tracePath).includes('"mode":"RUNNING"'), 12_000);
    await until('the brake line driven to 1 (drives enabled)', () => journalLines().includes(`value gpio${BRAKE} 1`), 2000);
    // Let the arm move for a while before the press.
    await sleep(300);
    // The model's pid is in its mount namespace: its /proc root shows that namespace's /sys.
    const modelPid = Number(read(ready).trim());
    const brakeValue = `/proc/${modelPid}/root/sys/class/gpio/gpio${BRAKE}/value`;
    expect(read(brakeValue).trim(), diagnostics()).toBe('1');
    expect(read(join(pins, `gpio${BRAKE}`)).trim()).toBe('1');
    expect(read(tracePath)).not.toContain('"estop":1');

    // Press: the active-low line pulled to ground; wait until the model's value file shows it.
    writeFileSync(join(pins, `gpio${ESTOP}`), '0\n');
    await until('the model publishing the press', () => journalLines().includes(`pin gpio${ESTOP} 0`), 2000);
    await until('the brake line driven to 0', () => journalLines().includes(`value gpio${BRAKE} 0`), 2000);
    // Still running (FAULT latched), and the brake's value file reads the safe level.
    expect(exitCode, diagnostics()).toBeUndefined();
    expect(read(brakeValue).trim()).toBe('0');

    const timer = setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGKILL'), (DURATION_S + 8) * 1000);
    const code = await exited;
    clearTimeout(timer);
    groupToKill = undefined;
    expect(code, diagnostics()).toBe(0);

    // The report.
    const report = JSON.parse(read(join(work, 'report.json'))) as Report;
    expect(report.transitions).toContainEqual(expect.objectContaining({ from: 'RUNNING', to: 'FAULT', cause: 'emergency stop' }));
    expect(report.safety_interventions.estop_trips).toBeGreaterThanOrEqual(1);
    expect(['FAULT', 'STOPPED']).toContain(report.final_mode);
    expect(report.controlled_shutdown).toBe(true);
    expect(report.hardware_errors).toBe(0);
    // Latched: nothing left FAULT after the trip except the shutdown's STOPPED.
    const trip = report.transitions.findIndex((t) => t.to === 'FAULT');
    expect(report.transitions.slice(trip + 1).every((t) => t.to === 'STOPPED'), JSON.stringify(report.transitions)).toBe(true);

    // The trace: the first tick that reads the line pressed is already FAULT with power off.
    expect(report.trace?.lost).toBe(0);
    const trace = read(tracePath)
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as TraceLine);
    const first = trace.findIndex((t) => t.estop === 1);
    expect(first).toBeGreaterThan(0);
    expect(trace[first]).toMatchObject({ estop: 1, mode: 'FAULT', powered: 0 });
    // The tick before: running with drives powered, and never a released line read pressed before.
    expect(trace[first - 1]).toMatchObject({ tick: trace[first].tick - 1, estop: 0, mode: 'RUNNING', powered: 1 });
    expect(trace.slice(first).every((t) => t.estop === 1 && t.powered === 0 && (t.mode === 'FAULT' || t.mode === 'STOPPED'))).toBe(true);

    // What the runtime did to the lines: exported both (the e-stop first), configured them,
    // enabled the drives, then dropped the brake line after the press; the pin stays low.
    const lines = journalLines();
    const at = (line: string): number => lines.indexOf(line);
    for (const line of [
      `export ${ESTOP}`,
      `export ${BRAKE}`,
      `active_low gpio${ESTOP} 1`,
      `direction gpio${ESTOP} in`,
      `edge gpio${ESTOP} both`,
      `active_low gpio${BRAKE} 0`,
      `direction gpio${BRAKE} low`,
    ]) {
      expect(at(line), `${line}\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
    }
    expect(at(`export ${ESTOP}`)).toBeLessThan(at(`export ${BRAKE}`));
    expect(at(`value gpio${BRAKE} 1`)).toBeLessThan(at(`pin gpio${ESTOP} 0`));
    expect(at(`pin gpio${ESTOP} 0`)).toBeLessThan(at(`value gpio${BRAKE} 0`));
    expect(lines.filter((l) => l === `value gpio${BRAKE} 1`)).toHaveLength(1);
    expect(lines.slice(at(`value gpio${BRAKE} 0`)).filter((l) => l.startsWith(`value gpio${BRAKE} `))).toEqual([`value gpio${BRAKE} 0`]);
    expect(read(join(pins, `gpio${BRAKE}`)).trim()).toBe('0');
    // On exit the runtime unexports both lines, the brake's then the e-stop's, back to back. The
    // model reads `unexport` and then empties it, so a second number written in between is lost
    // (the kernel acts inside each write()): only one of the two is sure to be journaled.
    expect(lines.filter((l) => l === `unexport ${ESTOP}` || l === `unexport ${BRAKE}`).length, lines.join('\n')).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
