/**
 * Fleet collection (deploy/ansible/collect.yml) with the real ansible-playbook against two
 * "robots" on this machine (connection local, each its own recordings directory filled by a real
 * `embody run --record`): finished episodes are copied, their SHA-256 verified and written beside
 * the copy, and only then freed on the robot; an episode still open is neither copied nor freed;
 * the collected recordings of both robots export into one dataset.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, embody, root } from './support.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('deploy/ansible/collect.yml', () => {
  it('copies finished episodes, verifies them, frees them on the robot, and leaves open ones alone', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'embody-collect-'));
    for (const robot of ['robot-a', 'robot-b']) {
      const run = embody(['run', '--broker', 'none', '--duration', '3', '--record', join(directory, robot), '--state-dir', join(directory, `${robot}-state`)], children);
      expect(await run.exit).toBe(0);
    }
    const robotA = join(directory, 'robot-a', 'sim-arm-01');
    const [finished] = readdirSync(robotA);
    // An episode still being written: its metadata has no stop_tick yet.
    const open = join(robotA, 'still-open');
    cpSync(join(robotA, finished), open, { recursive: true });
    const meta = JSON.parse(readFileSync(join(open, 'episode.json'), 'utf8')) as Record<string, unknown>;
    delete meta.stop_tick;
    writeFileSync(join(open, 'episode.json'), JSON.stringify(meta));
    const sums = Object.fromEntries(readdirSync(join(robotA, finished)).map((f) => [f, sha256(join(robotA, finished, f))]));

    const inventory = join(directory, 'inventory.ini');
    writeFileSync(
      inventory,
      ['[robots]', ...['robot-a', 'robot-b'].map((r) => `${r} ansible_connection=local ansible_python_interpreter=/usr/bin/python3 embody_recordings_dir=${join(directory, r)}`), ''].join('\n'),
    );
    const dest = join(directory, 'collected');
    const ansibleDir = join(root, 'deploy/ansible');
    const play = spawnSync('ansible-playbook', ['-i', inventory, 'collect.yml', '-e', `collect_dest=${dest}`], { cwd: ansibleDir, encoding: 'utf8', env: { ...process.env, ANSIBLE_CONFIG: join(ansibleDir, 'ansible.cfg'), NO_COLOR: '1' }, timeout: 120_000 });
    expect(play.status, play.stdout.slice(-4000) + play.stderr).toBe(0);

    const copied = join(dest, 'robot-a', 'sim-arm-01', finished);
    for (const [file, sum] of Object.entries(sums)) expect(sha256(join(copied, file))).toBe(sum);
    const listed = readFileSync(join(copied, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => l.split(/\s+/));
    expect(Object.fromEntries(listed.map(([sum, file]) => [file, sum]))).toEqual(sums);
    expect(existsSync(join(robotA, finished))).toBe(false); // freed after the verified copy
    expect(existsSync(open)).toBe(true); // still open: neither copied nor freed
    expect(existsSync(join(dest, 'robot-a', 'sim-arm-01', 'still-open'))).toBe(false);
    expect(readdirSync(join(dest, 'robot-b', 'sim-arm-01'))).toHaveLength(1);
    expect(readdirSync(join(directory, 'robot-b', 'sim-arm-01'))).toHaveLength(0);

    const exported = spawnSync(process.execPath, [cli, 'dataset', 'export', dest, '--out', join(directory, 'dataset'), '--vcodec', 'libx264'], { encoding: 'utf8' });
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/2 episode\(s\)/);
  }, 180_000);
});
