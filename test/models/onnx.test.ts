import { policySessionOptions } from '../../src/runtime/policy/session-options.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward, type DemoNetwork } from '../../models/demo-network.js';
import {
  DataType,
  GraphBuilder,
  attr,
  decodeModel,
  demoNetworkFromJson,
  demoNetworkToJson,
  randomDemoNetwork,
  randomDemoObservations,
  readDemoNetworkJson,
  writeDemoNetworkJson,
  writeDemoPolicyOnnx,
  writeLinearPolicyOnnx,
  type DemoCalibration,
  type ModelProto,
} from '../../models/onnx/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'embody-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const net: DemoNetwork = randomDemoNetwork(
  { imageShape: [3, 24, 32], stateSize: 14, touchSize: 4, outChannels: 8, kernel: 4, hidden: 64, horizon: 4, actionDim: 7 },
  11,
);
const calibration = randomDemoObservations(net, 64, 12);
// Held out from calibration, so the int8 error includes ranges it was not fitted to.
const testSet = randomDemoObservations(net, 32, 13);
const fp32File = path.join(dir, 'demo-fp32.onnx');
const int8File = path.join(dir, 'demo-int8.onnx');

beforeAll(() => {
  writeDemoPolicyOnnx(net, fp32File, { precision: 'fp32' });
  writeDemoPolicyOnnx(net, int8File, { precision: 'int8', calibration });
});

function feedsOf(set: DemoCalibration, i: number): Record<string, ort.Tensor> {
  return {
    image: new ort.Tensor('float32', set.images[i], [1, ...net.imageShape]),
    state: new ort.Tensor('float32', set.states[i], [1, net.stateSize]),
    touch: new ort.Tensor('float32', set.touches[i], [1, net.touchSize]),
  };
}

async function compare(file: string): Promise<{ maxAbsError: number; outputRange: number }> {
  const session = await ort.InferenceSession.create(file);
  try {
    let maxAbsError = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < testSet.images.length; i++) {
      const result = await session.run(feedsOf(testSet, i));
      const actions = result.actions;
      expect(actions.dims).toEqual([1, net.output.horizon, net.output.actionDim]);
      const got = actions.data as Float32Array;
      const want = forward(net, testSet.images[i], testSet.states[i], testSet.touches[i]);
      for (let j = 0; j < want.length; j++) {
        maxAbsError = Math.max(maxAbsError, Math.abs(got[j] - want[j]));
        lo = Math.min(lo, want[j]);
        hi = Math.max(hi, want[j]);
      }
    }
    return { maxAbsError, outputRange: hi - lo };
  } finally {
    await session.release();
  }
}

function opTypes(model: ModelProto): string[] {
  return (model.graph?.node ?? []).map((n) => n.opType);
}

describe('demo policy ONNX', () => {
  for (const file of [fp32File, int8File]) {
    it(`${path.basename(file)} declares image, state, touch -> actions with static shapes`, async () => {
      const session = await ort.InferenceSession.create(file);
      try {
        expect(session.inputNames).toEqual(['image', 'state', 'touch']);
        expect(session.outputNames).toEqual(['actions']);
        const shapes = session.inputMetadata.map((m) => (m.isTensor ? [m.type, m.shape] : null));
        expect(shapes).toEqual([
          ['float32', [1, 3, 24, 32]],
          ['float32', [1, 14]],
          ['float32', [1, 4]],
        ]);
        const [out] = session.outputMetadata;
        expect(out.isTensor && [out.type, out.shape]).toEqual(['float32', [1, 4, 7]]);
      } finally {
        await session.release();
      }
    });
  }

  it('fp32 matches the reference forward pass', async () => {
    const { maxAbsError, outputRange } = await compare(fp32File);
    expect(outputRange).toBeGreaterThan(0.1);
    expect(maxAbsError).toBeLessThan(1e-4);
  });

  it('int8 stays close to the reference forward pass', async () => {
    const { maxAbsError, outputRange } = await compare(int8File);
    console.info(`int8 max abs error ${maxAbsError.toExponential(3)} over an output range of ${outputRange.toFixed(3)} (${((100 * maxAbsError) / outputRange).toFixed(2)}%)`);
    expect(maxAbsError / outputRange).toBeLessThan(0.05);
  });

  it('int8 is static QDQ: int8 weights, fixed scales, no dynamic quantization', () => {
    const model = decodeModel(readFileSync(int8File));
    const ops = opTypes(model);
    expect(ops).toContain('QuantizeLinear');
    expect(ops).toContain('DequantizeLinear');
    for (const banned of ['ConvInteger', 'DynamicQuantizeLinear', 'MatMulInteger']) expect(ops).not.toContain(banned);
    const initializers = new Map((model.graph?.initializer ?? []).map((t) => [t.name, t]));
    for (const name of ['conv.weight', 'hidden.weight', 'output.weight']) {
      expect(initializers.has(name), `${name} must not be stored as float`).toBe(false);
      expect(initializers.get(`${name}.quantized`)?.dataType).toBe(DataType.INT8);
    }
    // Every QuantizeLinear takes its scale from an initializer, never from a computed tensor.
    for (const node of model.graph?.node ?? []) {
      if (node.opType === 'QuantizeLinear') expect(initializers.has(node.input?.[1] ?? '')).toBe(true);
    }
  });

  it('onnxruntime fuses the int8 graph into quantized kernels', async () => {
    // 'extended' applies the QDQ fusions but not the machine-specific layout ones, so the
    // saved graph is the same on every CPU.
    const optimized = path.join(dir, 'demo-int8.optimized.onnx');
    const session = await ort.InferenceSession.create(int8File, { graphOptimizationLevel: 'extended', optimizedModelFilePath: optimized });
    await session.release();
    const ops = opTypes(decodeModel(readFileSync(optimized)));
    expect(ops).toContain('QLinearConv');
    const quantizedMatMuls = ops.filter((op) => ['QGemm', 'QLinearMatMul', 'MatMulIntegerToFloat', 'MatMulInteger'].includes(op));
    expect(quantizedMatMuls, ops.join(' ')).toHaveLength(2);
    for (const float of ['Conv', 'MatMul', 'Gemm', 'FusedGemm']) expect(ops, ops.join(' ')).not.toContain(float);
  });

  it('runs with the runtime session options (single thread, spinning off via extra)', async () => {
    const session = await ort.InferenceSession.create(int8File, policySessionOptions);
    try {
      const result = await session.run(feedsOf(testSet, 0));
      expect(result.actions.dims).toEqual([1, 4, 7]);
    } finally {
      await session.release();
    }
  });

  it('refuses a calibration set whose parts disagree', () => {
    const broken = { ...calibration, states: calibration.states.slice(1) };
    expect(() => writeDemoPolicyOnnx(net, path.join(dir, 'broken.onnx'), { precision: 'int8', calibration: broken })).toThrow(/calibration/);
  });
});

describe('DemoNetwork JSON', () => {
  it('round-trips through JSON exactly', () => {
    const file = path.join(dir, 'json', 'net.json');
    writeDemoNetworkJson(net, file);
    const back = readDemoNetworkJson(file);
    expect(back.imageShape).toEqual(net.imageShape);
    expect(back.conv.weight).toEqual(net.conv.weight);
    expect(back.output.bias).toEqual(net.output.bias);
    expect(demoNetworkToJson(back)).toEqual(demoNetworkToJson(net));
  });

  it('rejects weights of the wrong size', () => {
    const json = demoNetworkToJson(net);
    expect(() => demoNetworkFromJson({ ...json, hidden: { ...json.hidden, bias: [1, 2] } })).toThrow(/hidden.bias/);
  });
});

describe('linear policy ONNX', () => {
  it('computes reshape(state · W + b) with the declared names and shapes', async () => {
    const stateSize = 4;
    const horizon = 8;
    const actionDim = 4;
    const n = horizon * actionDim;
    const weight = Float32Array.from({ length: stateSize * n }, (_, i) => Math.sin(i) * 0.5);
    const bias = Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 0.1);
    const file = path.join(dir, 'nested', 'linear.onnx');
    writeLinearPolicyOnnx(file, { stateSize, horizon, actionDim, weight, bias });
    const session = await ort.InferenceSession.create(file);
    try {
      expect(session.inputNames).toEqual(['state']);
      expect(session.outputNames).toEqual(['actions']);
      const [input] = session.inputMetadata;
      expect(input.isTensor && input.shape).toEqual([1, stateSize]);
      const [output] = session.outputMetadata;
      expect(output.isTensor && output.shape).toEqual([1, horizon, actionDim]);
      const state = Float32Array.from([0.3, -1.2, 0.7, 0.02]);
      const result = await session.run({ state: new ort.Tensor('float32', state, [1, stateSize]) });
      const got = result.actions.data as Float32Array;
      for (let j = 0; j < n; j++) {
        let want = bias[j];
        for (let i = 0; i < stateSize; i++) want += state[i] * weight[i * n + j];
        expect(got[j]).toBeCloseTo(want, 5);
      }
    } finally {
      await session.release();
    }
  });

  it('rejects a weight that does not match its shape', () => {
    expect(() =>
      writeLinearPolicyOnnx(path.join(dir, 'bad.onnx'), { stateSize: 3, horizon: 2, actionDim: 2, weight: new Float32Array(5), bias: new Float32Array(4) }),
    ).toThrow(/weight/);
  });
});

describe('GraphBuilder', () => {
  it('writes ir_version 8, opset 17, producer embody and little-endian raw data', () => {
    const g = new GraphBuilder({ name: 'g' });
    g.addInput('x', 'float32', [1, 2]);
    g.int64('shape', [2], [2, -1]);
    g.int8('q', [3], [-127, 0, 127]);
    g.op('Reshape', ['x', 'shape'], 'y', { allowzero: attr.int(0) });
    g.addOutput('y', 'float32', [2, 1]);
    const model = decodeModel(g.build());
    expect(model.irVersion).toBe(8);
    expect(model.producerName).toBe('embody');
    expect(model.opsetImport).toEqual([{ domain: '', version: 17 }]);
    const shape = model.graph?.initializer?.find((t) => t.name === 'shape');
    expect(shape?.dataType).toBe(DataType.INT64);
    expect(shape?.dims).toEqual([2]);
    expect(Array.from(new BigInt64Array(Uint8Array.from(shape?.rawData ?? []).buffer))).toEqual([2n, -1n]);
    const q = model.graph?.initializer?.find((t) => t.name === 'q');
    expect(Array.from(new Int8Array(Uint8Array.from(q?.rawData ?? []).buffer))).toEqual([-127, 0, 127]);
    expect(model.graph?.node?.[0].attribute?.[0]).toMatchObject({ name: 'allowzero', i: 0 });
    expect(model.graph?.output?.[0].type?.tensorType?.shape?.dim).toEqual([{ dimValue: 2 }, { dimValue: 1 }]);
  });

  it('refuses duplicate names and out-of-range integers', () => {
    const g = new GraphBuilder();
    g.float('w', [1], [1]);
    expect(() => g.float('w', [1], [2])).toThrow(/duplicate/);
    expect(() => g.int8('big', [1], [200])).toThrow(/not an integer in/);
    expect(() => g.float('short', [2, 2], [1, 2, 3])).toThrow(/need 4/);
  });
});
