/**
 * The policy process (robot.yaml `policy.host: process`) against the real onnxruntime in a real
 * child process: same outputs as the inline session, a child that dies fails only the run it
 * was doing and is replaced, a file that is not a model is a clear load error, and release kills
 * the child at once.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
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
});
