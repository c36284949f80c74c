/**
 * End to end, with the real parts: the release bundle built twice (reproducible), a Debian root
 * booted with systemd as PID 1 (systemd-nspawn), the Ansible playbook over real SSH reporting to a
 * real mosquitto that takes only TLS with a client certificate and a password (all from host
 * variables, test/deploy/broker.ts), and then what a robot's service must survive: watchdog on a
 * stopped process, kill -9, a release that cannot become READY (automatic rollback), an invalid
 * robot.yaml (refused before anything changes), and an idempotent second run.
 *
 * Part of `npm test` (after the unit suite) and alone as `npm run test:deploy`. Needs root,
 * debootstrap, systemd-nspawn, ansible-playbook, ansible-lint, ssh, openssl, mosquitto: the
 * pretest step installs them (scripts/install-test-deps.sh). The Debian root is built once and
 * cached (test/deploy/rootfs.sh); each run boots a copy of it and removes the copy, every process
 * in it and the broker at the end, pass or fail.
 *
 * Duration on the 2-core machine: see test/deploy/vitest.config.ts.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BUNDLE_INPUTS, buildBundle, packTarball, readRevision, writeManifest, type BundleMeta, type BundleResult, type Manifest, type Revision } from '../../scripts/bundle.js';
import { startTlsBroker, type TlsBroker } from './broker.js';
import { bootRobot, must, sh, type Robot } from './container.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ansibleDir = join(repo, 'deploy', 'ansible');
const rootfs = resolve(process.env.EMBODY_TEST_ROOTFS ?? '/var/cache/embody-test/rootfs');
const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
const host = 'robot-test';
const robotId = 'deploy-test-01';

/** WatchdogSec= of systemd/embody.service. */
const watchdogSec = Number(/^WatchdogSec=(\d+)s?$/m.exec(readFileSync(join(repo, 'systemd', 'embody.service'), 'utf8'))?.[1]);

const timings: Record<string, number> = {};
async function timed<T>(label: string, work: () => T | Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings[label] = Math.round(performance.now() - started) / 1000;
  }
}

interface Recap {
  readonly code: number;
  readonly output: string;
  readonly ok: number;
  readonly changed: number;
  readonly failed: number;
  readonly unreachable: number;
  readonly rescued: number;
}

let work: string;
/**
 * One snapshot of the repository's bundle inputs and revision, so that both builds see the same
 * inputs even when the working tree changes (or a commit lands) between them.
 */
let snapshot: string;
let revision: Revision;
let robot: Robot | undefined;
let broker: TlsBroker | undefined;
let good: BundleResult;

function playbook(bundle: string, extraVars: Record<string, unknown> = {}): Recap {
  const inventory = join(work, 'inventory.yml');
  const varsFile = join(work, `extra-vars-${Date.now()}.json`);
  writeFileSync(varsFile, JSON.stringify({ embody_bundle: bundle, ...extraVars }));
  const result = sh('ansible-playbook', ['-i', inventory, join(ansibleDir, 'site.yml'), '-e', `@${varsFile}`], {
    timeoutMs: 600_000,
    cwd: ansibleDir,
    env: {
      ...process.env,
      ANSIBLE_CONFIG: join(ansibleDir, 'ansible.cfg'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_LOCAL_TEMP: join(work, 'ansible-local'),
      ANSIBLE_SSH_CONTROL_PATH_DIR: join(work, 'ansible-cp'),
      ANSIBLE_RETRY_FILES_ENABLED: '0',
    },
  });
  const output = `${result.stdout}${result.stderr}`;
  writeFileSync(join(work, `playbook-${Date.now()}.log`), output);
  const m = new RegExp(`^${host}\\s*:\\s*ok=(\\d+)\\s+changed=(\\d+)\\s+unreachable=(\\d+)\\s+failed=(\\d+)\\s+skipped=\\d+\\s+rescued=(\\d+)`, 'm').exec(output);
  if (!m) throw new Error(`no PLAY RECAP for ${host} (exit ${result.code}):\n${output.slice(-6000)}`);
  return { code: result.code, output, ok: Number(m[1]), changed: Number(m[2]), unreachable: Number(m[3]), failed: Number(m[4]), rescued: Number(m[5]) };
}

function show(): Record<string, string> {
  const out = must(robot!.ssh('systemctl show embody -p ActiveState,SubState,StatusText,MainPID,NRestarts,Result'), 'systemctl show');
  return Object.fromEntries(out.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** The release directory the service's main process was started from. */
function runningRelease(pid: string): string {
  return must(robot!.ssh(`readlink /proc/${pid}/exe`), 'readlink exe').trim().replace(/\/node\/bin\/node$/, '');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last state ${JSON.stringify(show())}`);
    await sleep(250);
  }
}

function manifestOf(tarball: string): Manifest {
  const out = must(sh('tar', ['-xzOf', tarball, '--wildcards', '*/MANIFEST.json']), 'reading MANIFEST.json');
  return JSON.parse(out) as Manifest;
}

/**
 * A release whose runtime cannot become READY: the good bundle with `embody run` exiting before
 * the control loop starts (`embody check` still passes, so only the health check can catch it),
 * under a new version, its manifest and sums regenerated as the bundle script writes them.
 */
let brokenFile: string | undefined;
function brokenBundle(from: BundleResult): string {
  if (brokenFile !== undefined) return brokenFile;
  const dir = mkdtempSync(join(work, 'broken-'));
  must(sh('tar', ['-xzf', from.file, '-C', dir]), 'unpacking the good bundle');
  const version = `${from.manifest.version}-broken`;
  const name = `embody-${version}-${from.manifest.arch}`;
  const top = join(dir, name);
  renameSync(join(dir, `embody-${from.manifest.version}-${from.manifest.arch}`), top);
  const cli = join(top, 'dist', 'src', 'cli.js');
  const source = readFileSync(cli, 'utf8');
  const shebangEnd = source.startsWith('#!') ? source.indexOf('\n') + 1 : 0;
  writeFileSync(
    cli,
    `${source.slice(0, shebangEnd)}if (process.argv[2] === 'run') { console.error('deliberately broken release: exiting before READY'); process.exit(70); }\n${source.slice(shebangEnd)}`,
  );
  const meta = Object.fromEntries(Object.entries(from.manifest).filter(([key]) => key !== 'files')) as unknown as BundleMeta;
  writeManifest(top, { ...meta, version });
  const file = join(work, `${name}.tar.gz`);
  packTarball(dir, name, file, from.manifest.commit_time);
  rmSync(dir, { recursive: true, force: true });
  brokenFile = file;
  return file;
}

describe('deploy: bundle, systemd service, Ansible over SSH', () => {
  beforeAll(async () => {
    for (const tool of ['debootstrap', 'systemd-nspawn', 'ansible-playbook', 'ansible-lint', 'ssh', 'ssh-keygen', 'tar', 'gzip', 'openssl', 'mosquitto', 'mosquitto_sub', 'mosquitto_passwd']) {
      if (sh('bash', ['-c', `command -v ${tool}`]).code !== 0) throw new Error(`${tool} is missing: run scripts/install-test-deps.sh (as root)`);
    }
    if (process.getuid?.() !== 0) throw new Error('the deploy test boots a container: run it as root');
    if (!Number.isFinite(watchdogSec)) throw new Error('no WatchdogSec= in systemd/embody.service');
    work = mkdtempSync(join(tmpdir(), 'embody-deploy-test-'));
    mkdirSync(join(work, 'ansible-cp'));
    snapshot = join(work, 'source');
    for (const input of BUNDLE_INPUTS) {
      mkdirSync(dirname(join(snapshot, input)), { recursive: true });
      cpSync(join(repo, input), join(snapshot, input), { recursive: true });
    }
    symlinkSync(join(repo, 'node_modules'), join(snapshot, 'node_modules'));
    revision = readRevision();
    good = await timed('bundle build 1', () => buildBundle({ arch, outDir: join(work, 'bundle-1'), sourceDir: snapshot, revision }));
    await timed('rootfs (debootstrap or cache)', () => {
      // Three debootstrap attempts of up to 15 minutes each when the mirror is slow or drops.
      process.stderr.write(must(sh('bash', [join(repo, 'test', 'deploy', 'rootfs.sh')], { timeoutMs: 2_880_000 }), 'test/deploy/rootfs.sh'));
    });
    // The fleet's MQTT broker: a real mosquitto on the host (the container shares its network),
    // TLS with a client certificate and a password, as the inventory variables describe it.
    broker = await startTlsBroker(work, robotId);
    robot = await timed('container boot', () => bootRobot(rootfs, host));
    writeFileSync(
      join(work, 'inventory.yml'),
      [
        'robots:',
        '  hosts:',
        `    ${host}:`,
        '      ansible_host: 127.0.0.1',
        `      ansible_port: ${robot.sshPort}`,
        '      ansible_user: root',
        `      ansible_ssh_private_key_file: ${robot.keyFile}`,
        '      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
        `      embody_robot_id: ${robotId}`,
        `      embody_mqtt_url: ${broker.url}`,
        `      embody_mqtt_ca: ${broker.ca}`,
        `      embody_mqtt_client_cert: ${broker.clientCert}`,
        `      embody_mqtt_client_key: ${broker.clientKey}`,
        `      embody_mqtt_username: ${broker.username}`,
        `      embody_mqtt_password: ${broker.password}`,
        '      embody_health_settle_s: 8',
        '',
      ].join('\n'),
    );
  }, 3_600_000);

  afterAll(async () => {
    try {
      if (robot) {
        const journal = robot.ssh('journalctl -u embody --no-pager -o short-precise | tail -n 200', 30_000);
        if (work) writeFileSync(join(work, 'journal.log'), journal.stdout);
      }
    } finally {
      broker?.stop();
      await robot?.stop();
      if (work && !process.env.EMBODY_KEEP_TEST_DIR) rmSync(work, { recursive: true, force: true });
      process.stderr.write(`deploy test timings (s): ${JSON.stringify(timings)}\n`);
    }
  }, 120_000);

  it('builds the same bundle twice (reproducible manifest and tarball)', async () => {
    const second = await timed('bundle build 2', () => buildBundle({ arch, outDir: join(work, 'bundle-2'), sourceDir: snapshot, revision }));
    const a = manifestOf(good.file);
    const b = manifestOf(second.file);
    expect(b.version).toBe(a.version);
    expect(b.files.length).toBeGreaterThan(100);
    expect(b.files).toEqual(a.files);
    expect(second.sha256).toBe(good.sha256);
    // What the manifest promises is there.
    const paths = new Set(a.files.map((f) => f.path));
    for (const path of ['node/bin/node', 'dist/src/cli.js', 'models/demo/policy.yaml', 'robots/sim-arm.yaml', 'systemd/embody.service', `node_modules/onnxruntime-node/bin/napi-v6/linux/${arch}/onnxruntime_binding.node`]) {
      expect(paths, path).toContain(path);
    }
    expect(a.node.version).toMatch(/^v24\./);
    expect(a.arch).toBe(arch);
    expect(a.commit).toMatch(/^[0-9a-f]{40}$/);
    const nodeEntry = a.files.find((f) => f.path === 'node/bin/node')!;
    const unpacked = must(sh('bash', ['-c', `tar -xzOf '${good.file}' '${a.name}-${a.version}-${a.arch}/node/bin/node' | sha256sum`]), 'hashing node');
    expect(unpacked.split(' ')[0]).toBe(nodeEntry.sha256);
  }, 900_000);

  it('deploys over SSH: the service is active, sent READY, runs the bundled Node and logs JSON', async () => {
    const first = await timed('playbook: first deploy', () => playbook(good.file));
    expect(first.code, first.output.slice(-6000)).toBe(0);
    expect(first.failed).toBe(0);
    expect(first.changed).toBeGreaterThan(0);

    const state = show();
    expect(state.ActiveState).toBe('active');
    expect(state.SubState).toBe('running');
    // Type=notify: active means READY=1 arrived; STATUS= is the runtime's mode.
    expect(state.StatusText).toMatch(/^mode (IDLE|ARMED|RUNNING)/);
    expect(runningRelease(state.MainPID)).toBe(`/opt/embody/releases/${good.manifest.version}`);
    expect(must(robot!.ssh('readlink /opt/embody/current'), 'readlink').trim()).toBe(`releases/${good.manifest.version}`);
    // The container has no Node of its own.
    expect(robot!.ssh('command -v node').code).not.toBe(0);
    // Runs as embody with the device groups, not root, and only CAP_SYS_NICE.
    const status = must(robot!.ssh(`cat /proc/${state.MainPID}/status`), 'status');
    expect(status).toMatch(/^CapEff:\s*0000000000800000$/m);
    expect(status).toMatch(/^NoNewPrivs:\s*1$/m);
    expect(must(robot!.ssh(`ps -o user= -p ${state.MainPID}`), 'ps').trim()).toBe('embody');
    const robotYaml = must(robot!.ssh('cat /etc/embody/robot.yaml'), 'robot.yaml');
    expect(robotYaml).toMatch(new RegExp(`^robot_id: ${robotId}$`, 'm'));

    // The MQTT settings came from the host's variables: broker URL, TLS files and credentials, the
    // secrets by file only, readable by the service's group and nobody else.
    const tls = broker!;
    expect(must(robot!.ssh('cat /etc/embody/embody.env'), 'embody.env')).toContain(`EMBODY_BROKER=${tls.url}`);
    const rendered = parse(robotYaml) as { telemetry?: { broker?: Record<string, string> } };
    expect(rendered.telemetry?.broker).toEqual({
      url: tls.url,
      ca_file: '/etc/embody/mqtt/ca.pem',
      cert_file: '/etc/embody/mqtt/client.pem',
      key_file: '/etc/embody/mqtt/client.key',
      username: tls.username,
      password_file: '/etc/embody/mqtt/password',
    });
    expect(must(robot!.ssh('cd /etc/embody/mqtt && stat -c "%n %a %U:%G" . ca.pem client.pem client.key password'), 'stat').trim().split('\n')).toEqual([
      '. 750 root:embody',
      'ca.pem 640 root:embody',
      'client.pem 640 root:embody',
      'client.key 640 root:embody',
      'password 640 root:embody',
    ]);
    expect(must(robot!.ssh('cat /etc/embody/mqtt/password'), 'password')).toBe(tls.password);
    expect(must(robot!.ssh('cat /etc/embody/mqtt/ca.pem'), 'ca.pem')).toBe(readFileSync(tls.ca, 'utf8'));
    // The rendered file passes the release's own check, run as the service's user.
    must(
      robot!.ssh('runuser -u embody -- /opt/embody/current/node/bin/node /opt/embody/current/dist/src/cli.js check --robot /etc/embody/robot.yaml --policy /opt/embody/current/models/demo/policy.yaml'),
      'embody check of the rendered robot.yaml, as embody',
    );
    // The runtime (user embody) read them and reports over TLS: its retained status is on the broker,
    // which refuses anyone without a client certificate and the password.
    const mqttStatus = sh('mosquitto_sub', tls.subArgs(`embody/${robotId}/status`, '-C', '1', '-W', '30'), { timeoutMs: 40_000 });
    expect(mqttStatus.code, `no retained embody/${robotId}/status on the broker: ${mqttStatus.stderr}`).toBe(0);
    expect(mqttStatus.stdout.trim().length).toBeGreaterThan(0);
    const anonymous = sh('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(tls.port), '--cafile', tls.ca, '-t', '#', '-C', '1', '-W', '5'], { timeoutMs: 15_000 });
    expect(anonymous.code, 'the broker let in a client without certificate and password').not.toBe(0);
    // The password is nowhere but in its file: not in the playbook's output, robot.yaml or the journal.
    expect(first.output).not.toContain(tls.password);
    expect(robotYaml).not.toContain(tls.password);
    expect(must(robot!.ssh('journalctl --no-pager -o cat'), 'journal')).not.toContain(tls.password);

    // Structured journal: every line the runtime wrote is one JSON object with level, time, msg.
    const lines = must(robot!.ssh('journalctl -t embody -o cat --no-pager'), 'journal')
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) {
      const record = JSON.parse(line) as { level?: unknown; time?: unknown; msg?: unknown };
      expect(typeof record.level, line).toBe('number');
      expect(typeof record.time, line).toBe('number');
      expect(typeof record.msg, line).toBe('string');
    }
    expect(lines.some((l) => l.includes('"control loop ready"'))).toBe(true);
  }, 900_000);

  it('the unit verifies clean and systemd-analyze security rates it 3.0 or lower', () => {
    const verify = robot!.ssh('systemd-analyze verify /etc/systemd/system/embody.service 2>&1');
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout.trim(), verify.stdout).toBe('');
    const security = robot!.ssh('systemd-analyze security --no-pager embody.service 2>&1');
    const exposure = Number(/Overall exposure level for embody\.service:\s*([\d.]+)/.exec(security.stdout)?.[1]);
    process.stderr.write(`systemd-analyze security embody.service: exposure ${exposure}\n`);
    timings['security exposure (not seconds)'] = exposure;
    expect(exposure, security.stdout).toBeLessThanOrEqual(3.0);
  });

  it('the playbook passes ansible-lint (production profile)', () => {
    const lint = sh('ansible-lint', ['--offline', '-p', '--profile', 'production'], { cwd: ansibleDir, env: { ...process.env, ANSIBLE_CONFIG: join(ansibleDir, 'ansible.cfg'), NO_COLOR: '1' }, timeoutMs: 300_000 });
    expect(lint.code, `${lint.stdout}${lint.stderr}`).toBe(0);
  }, 300_000);

  it('a second run changes nothing', async () => {
    const again = await timed('playbook: idempotent re-run', () => playbook(good.file));
    expect(again.code, again.output.slice(-6000)).toBe(0);
    expect(again.changed, again.output.slice(-6000)).toBe(0);
  }, 600_000);

  it(`systemd's watchdog restarts a stopped runtime within WatchdogSec (${watchdogSec} s) plus a margin`, async () => {
    const before = show();
    const stoppedAt = Date.now();
    must(robot!.ssh('systemctl kill -s SIGSTOP embody'), 'SIGSTOP');
    // The stopped process stops petting; systemd aborts it at WatchdogSec.
    const killedAfter = await waitFor('the watchdog to kill the stopped process', (watchdogSec + 10) * 1000, () =>
      show().MainPID !== before.MainPID ? Date.now() - stoppedAt : undefined,
    );
    timings['watchdog: SIGSTOP -> killed'] = killedAfter / 1000;
    expect(killedAfter).toBeLessThan((watchdogSec + 4) * 1000);
    // The last pet may have come up to half a period before the stop.
    expect(killedAfter).toBeGreaterThan((watchdogSec / 2 - 0.5) * 1000);
    const after = await waitFor('the restarted runtime to be active', 60_000, () => {
      const s = show();
      return s.ActiveState === 'active' && s.MainPID !== '0' && s.MainPID !== before.MainPID ? s : undefined;
    });
    timings['watchdog: SIGSTOP -> active again'] = (Date.now() - stoppedAt) / 1000;
    expect(Number(after.NRestarts)).toBe(Number(before.NRestarts) + 1);
    expect(must(robot!.ssh('journalctl -u embody --no-pager -o cat'), 'journal')).toMatch(/Watchdog timeout/);
  }, 120_000);

  it('kill -9 restarts it', async () => {
    const before = show();
    const killedAt = Date.now();
    must(robot!.ssh(`kill -9 ${before.MainPID}`), 'kill -9');
    const after = await waitFor('the runtime to be active again after kill -9', 60_000, () => {
      const s = show();
      return s.ActiveState === 'active' && s.MainPID !== '0' && s.MainPID !== before.MainPID ? s : undefined;
    });
    timings['kill -9 -> active again'] = (Date.now() - killedAt) / 1000;
    expect(Number(after.NRestarts)).toBe(Number(before.NRestarts) + 1);
    expect(after.StatusText).toMatch(/^mode /);
  }, 120_000);

  it('refuses a robot.yaml that fails `embody check` before touching the running service', async () => {
    const before = show();
    const bad = await timed('playbook: invalid robot.yaml', () => playbook(good.file, { embody_robot_overrides: { control: { rate_hz: -5 } } }));
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/Render robot\.yaml/);
    expect(bad.output).toMatch(/Nothing was changed to roll back/);
    const after = show();
    expect(after.MainPID).toBe(before.MainPID);
    expect(after.ActiveState).toBe('active');
    expect(must(robot!.ssh('cat /etc/embody/robot.yaml'), 'robot.yaml')).not.toMatch(/rate_hz: -5/);
  }, 600_000);

  it('refuses to restart a robot that is not in one of embody_deploy_when_modes', async () => {
    const before = show();
    expect(before.StatusText).toMatch(/^mode (ARMED|RUNNING)/);
    const other = brokenBundle(good);
    const refused = await timed('playbook: mode gate', () => playbook(other, { embody_deploy_when_modes: ['IDLE', 'SAFE_STOP', 'FAULT'] }));
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/deploys restart the runtime only in\s+IDLE, SAFE_STOP, FAULT/);
    expect(refused.changed).toBe(0);
    expect(show().MainPID).toBe(before.MainPID);
    expect(robot!.ssh(`test -e /opt/embody/releases/${good.manifest.version}-broken`).code).not.toBe(0);
  }, 600_000);

  it('rolls back by itself to the previous release when the new one cannot become READY', async () => {
    const broken = brokenBundle(good);
    const before = show();
    const result = await timed('playbook: broken release + rollback', () => playbook(broken));
    expect(result.code).not.toBe(0);
    expect(result.failed).toBe(1);
    expect(result.rescued).toBe(1);
    expect(result.output).toContain(`Rolled back to ${good.manifest.version}, which is running again.`);

    const after = show();
    expect(after.ActiveState).toBe('active');
    expect(after.StatusText).toMatch(/^mode /);
    expect(after.MainPID).not.toBe(before.MainPID);
    expect(runningRelease(after.MainPID)).toBe(`/opt/embody/releases/${good.manifest.version}`);
    expect(must(robot!.ssh('readlink /opt/embody/current'), 'readlink').trim()).toBe(`releases/${good.manifest.version}`);
    // The broken release did run (and fail) before the rollback.
    expect(must(robot!.ssh('journalctl -u embody --no-pager -o cat'), 'journal')).toContain('deliberately broken release');

    // Everything is back as it was: deploying the good bundle again changes nothing.
    const again = await timed('playbook: re-run after rollback', () => playbook(good.file));
    expect(again.code, again.output.slice(-6000)).toBe(0);
    expect(again.changed, again.output.slice(-6000)).toBe(0);
  }, 900_000);

  it('the watchdog fired only when provoked (a healthy runtime is never restarted by it)', () => {
    const journal = must(robot!.ssh('journalctl -u embody --no-pager -o short-precise'), 'journal');
    const timeouts = journal.split('\n').filter((line) => line.includes('Watchdog timeout'));
    expect(timeouts, timeouts.join('\n')).toHaveLength(1);
  });

  it('leaves no backup or temporary files behind', () => {
    const listing = must(robot!.ssh('ls -A /etc/embody /etc/embody/mqtt /opt/embody /opt/embody/releases /opt/embody/incoming'), 'ls');
    expect(listing).not.toMatch(/~|\.tmp|\.incoming-/);
    expect(existsSync(good.file)).toBe(true);
    // Hash of what was deployed equals the bundle script's record.
    const sums = must(robot!.ssh(`cd /opt/embody/current && sha256sum --quiet --strict -c SHA256SUMS && echo verified`), 'sha256sum');
    expect(sums.trim()).toBe('verified');
    expect(createHash('sha256').update(readFileSync(good.file)).digest('hex')).toBe(good.sha256);
    cpSync(good.file, join(work, 'keep.tar.gz'));
    // After every run above (rollback included), the MQTT password is still only in its file: the
    // tasks touching it are no_log, so even the modules' own logging on the robot never saw it.
    const leaks = robot!.ssh(`grep -rlF -- '${broker!.password}' /etc /root /var/log /opt/embody /var/lib/embody /tmp 2>/dev/null; journalctl --no-pager -o cat | grep -cF -- '${broker!.password}'`);
    expect(leaks.stdout.trim().split('\n')).toEqual(['/etc/embody/mqtt/password', '0']);
  });
});
