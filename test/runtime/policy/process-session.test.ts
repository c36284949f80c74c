/**
 * The policy process (robot.yaml `policy.host: process`) against the real onnxruntime in a real
 * child process: same outputs as the inline session, a child that dies fails only the run it
 * was doing and is replaced, a file that is not a model is a clear load error, and release kills
 * the child at once.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { goneWithin } from '../../support/process-gone.js';
import { linearOscillatorWeights, sim4dofOscillator } from '../../../models/build-linear-policy.js';
import { writeSlowPolicyOnnx } from '../../../models/onnx/index.js';
import { PolicyLoadError, ProcessSession } from '../../../src/runtime/policy/process-session.js';

const model = fileURLToPath(new URL('../../../models/linear/linear.onnx', import.meta.url));
const feeds = (): Record<string, ort.Tensor> => ({ state: new ort.Tensor('float32', Float32Array.from([0.3, 0.1, 0.9, 0.03]), [1, 4]) });

describe('ProcessSession', () => {
  it('answers with the same tensors as an inline session and reports the signature', async () => {
    const hosted = await ProcessSession.open(model);
    const inline = await ort.InferenceSession.create(model);
    try {
      expect(hosted.inputNames).toEqual(inline.inputNames);
      expect(hosted.outputMetadata).toEqual(inline.outputMetadata);
      const [a, b] = [await hosted.run(feeds()), await inline.run(feeds())];
      expect(a.actions.dims).toEqual([1, 8, 4]);
      expect(Array.from(a.actions.data as Float32Array)).toEqual(Array.from(b.actions.data as Float32Array));
    } finally {
      await hosted.release();
      await inline.release();
    }
  });

  it('a dead policy process fails its run, and the next run starts a new one', async () => {
    const hosted = await ProcessSession.open(model);
    try {
      const first = hosted.pid!;
      process.kill(first, 'SIGKILL');
      await expect(hosted.run(feeds())).rejects.toThrow(/policy process exited \(SIGKILL\)/);
      const again = await hosted.run(feeds());
      expect(again.actions.dims).toEqual([1, 8, 4]);
      expect(hosted.pid).not.toBe(first);
    } finally {
      await hosted.release();
    }
  });

  it('a file that is not a model is a load error with onnxruntime reason, and no process is left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'embody-hosted-'));
    const bad = join(dir, 'bad.onnx');
    writeFileSync(bad, 'not a model');
    const error = await ProcessSession.open(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyLoadError);
    expect((error as Error).message).toMatch(/protobuf|parse|load|model/i);
  });

  it('release kills the child at once and later runs are refused', async () => {
    const hosted = await ProcessSession.open(model);
    const pid = hosted.pid!;
    await hosted.release();
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(hosted.run(feeds())).rejects.toThrow(/released/);
  });

  it('a policy process busy inside a long inference dies with a SIGKILLed runtime', async () => {
    // Busy in session.run(), the child cannot see its IPC channel close; only the kernel's
    // parent-death signal ends it. Make a model that takes a few seconds on this machine.
    const dir = mkdtempSync(join(tmpdir(), 'embody-hosted-'));
    const slow = join(dir, 'slow.onnx');
    const { weight, bias, stateSize, actionDim } = linearOscillatorWeights(sim4dofOscillator);
    let links = 20;
    for (let attempt = 0; attempt < 4; attempt++) {
      writeSlowPolicyOnnx(slow, { weight, bias, stateSize, actionDim, horizon: sim4dofOscillator.horizon, size: 512, links });
      const session = await ort.InferenceSession.create(slow, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      const t0 = performance.now();
      await session.run(feeds());
      const ms = performance.now() - t0;
      await session.release();
      if (ms > 3000) break;
      links = Math.max(links + 1, Math.round((links * 4000) / ms));
    }
    const module = join(fileURLToPath(new URL('../../../', import.meta.url)), 'dist/src/runtime/policy/process-session.js');
    const script = `
      const ort = await import('onnxruntime-node');
      const { ProcessSession } = await import(${JSON.stringify(module)});
      const hosted = await ProcessSession.open(${JSON.stringify(slow)});
      hosted.run({ state: new ort.Tensor('float32', new Float32Array(4), [1, 4]) }).catch(() => undefined);
      console.log('pid', hosted.pid);`;
    const runtime = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], cwd: fileURLToPath(new URL('../../../', import.meta.url)) });
    const pid = await new Promise<number>((resolve, reject) => {
      runtime.stdout.on('data', (d: Buffer) => {
        const found = /pid (\d+)/.exec(d.toString());
        if (found) resolve(Number(found[1]));
      });
      runtime.on('exit', (code) => reject(new Error(`runtime exited early (${code})`)));
    });
    await new Promise((resolve) => setTimeout(resolve, 300)); // the run is under way
    runtime.kill('SIGKILL');
    expect(await goneWithin(pid, 1500)).toBe(true);
  }, 60_000);
});
