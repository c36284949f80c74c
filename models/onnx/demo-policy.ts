/**
 * Writes the demo policy (models/demo-network.ts) as ONNX, in fp32 or as a statically
 * quantized int8 model in QDQ form.
 *
 * int8 layout. Every quantized op sits between DequantizeLinear inputs and a QuantizeLinear
 * output (or a float output for the last layer), the pattern onnxruntime's QDQ transformers
 * rewrite into quantized kernels (with onnxruntime 1.30: QLinearConv, and QGemm for each
 * MatMul + Add, which it first fuses into a Gemm):
 *
 *   image -> Q/DQ(u8) -> Conv(DQ(w int8, per out-channel), DQ(b int32)) -> Relu -> Q/DQ(u8, zp 0)
 *     -> Flatten -> Concat(state, touch) -> Q/DQ(u8)
 *     -> MatMul(DQ(W1 int8, per column)) -> Add(DQ(b1 int32)) -> Relu -> Q/DQ(u8, zp 0)
 *     -> MatMul(DQ(W2 int8, per column)) -> Add(DQ(b2 int32)) -> Reshape -> actions (float)
 *
 * Biases are int32 at scale input_scale * weight_scale because the Gemm selector only takes
 * a bias that is itself dequantized; with a float b2 the last layer stayed a float Gemm fed by
 * a DequantizeLinear of the whole weight on every run. A Relu feeding a Q with zero point 0 is
 * redundant (the Q clamps at 0), so onnxruntime drops it and the kernels emit uint8 directly.
 *
 * Activation ranges come from running the reference forward pass over a calibration set, so
 * the scales are constants in the file. Dynamic quantization (DynamicQuantizeLinear +
 * ConvInteger) recomputes them on every call; the project measured it about 5x slower here.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { convOutputSize, featuresOf, hiddenInputSize, hiddenOf, type DemoNetwork } from '../demo-network.js';
import { GraphBuilder, attr } from './graph.js';

export interface DemoCalibration {
  readonly images: readonly Float32Array[];
  readonly states: readonly Float32Array[];
  readonly touches: readonly Float32Array[];
}

export type DemoPolicyOptions = { readonly precision: 'fp32' } | { readonly precision: 'int8'; readonly calibration: DemoCalibration };

export const DEMO_INPUT_NAMES = ['image', 'state', 'touch'] as const;
export const DEMO_OUTPUT_NAME = 'actions';

function checkNetwork(net: DemoNetwork): void {
  const [channels] = net.imageShape;
  const { outChannels, kernel } = net.conv;
  const expect = (what: string, got: number, want: number): void => {
    if (got !== want) throw new Error(`DemoNetwork ${what} has ${got} values, expected ${want}`);
  };
  expect('conv.weight', net.conv.weight.length, outChannels * channels * kernel * kernel);
  expect('conv.bias', net.conv.bias.length, outChannels);
  expect('hidden.weight', net.hidden.weight.length, hiddenInputSize(net) * net.hidden.size);
  expect('hidden.bias', net.hidden.bias.length, net.hidden.size);
  const n = net.output.horizon * net.output.actionDim;
  expect('output.weight', net.output.weight.length, net.hidden.size * n);
  expect('output.bias', net.output.bias.length, n);
  if (convOutputSize(net).features === 0) throw new Error('DemoNetwork image is smaller than one conv kernel');
}

function declareIo(g: GraphBuilder, net: DemoNetwork): void {
  g.addInput('image', 'float32', [1, ...net.imageShape]);
  g.addInput('state', 'float32', [1, net.stateSize]);
  g.addInput('touch', 'float32', [1, net.touchSize]);
  g.addOutput(DEMO_OUTPUT_NAME, 'float32', [1, net.output.horizon, net.output.actionDim]);
}

function convAttributes(net: DemoNetwork): Record<string, ReturnType<typeof attr.ints>> {
  const k = net.conv.kernel;
  return { kernel_shape: attr.ints([k, k]), strides: attr.ints([k, k]), pads: attr.ints([0, 0, 0, 0]) };
}

/** The fp32 graph, the same ops in the same order as forward(). */
export function demoPolicyOnnxFp32(net: DemoNetwork): Uint8Array {
  checkNetwork(net);
  const [channels] = net.imageShape;
  const { outChannels, kernel } = net.conv;
  const inFeatures = hiddenInputSize(net);
  const { horizon, actionDim } = net.output;
  const g = new GraphBuilder({ name: 'demo_policy' });
  declareIo(g, net);
  const convW = g.float('conv.weight', [outChannels, channels, kernel, kernel], net.conv.weight);
  const convB = g.float('conv.bias', [outChannels], net.conv.bias);
  const w1 = g.float('hidden.weight', [inFeatures, net.hidden.size], net.hidden.weight);
  const b1 = g.float('hidden.bias', [net.hidden.size], net.hidden.bias);
  const w2 = g.float('output.weight', [net.hidden.size, horizon * actionDim], net.output.weight);
  const b2 = g.float('output.bias', [horizon * actionDim], net.output.bias);
  const shape = g.int64('actions_shape', [3], [1, horizon, actionDim]);

  const conv = g.op('Conv', ['image', convW, convB], 'conv', convAttributes(net));
  const flat = g.op('Flatten', [g.op('Relu', [conv], 'conv_relu')], 'conv_flat', { axis: attr.int(1) });
  const features = g.op('Concat', [flat, 'state', 'touch'], 'features', { axis: attr.int(1) });
  const hidden = g.op('Relu', [g.op('Add', [g.op('MatMul', [features, w1], 'hidden_mm'), b1], 'hidden_pre')], 'hidden');
  const out = g.op('Add', [g.op('MatMul', [hidden, w2], 'output_mm'), b2], 'output_flat');
  g.op('Reshape', [out, shape], DEMO_OUTPUT_NAME);
  return g.build();
}

/** Asymmetric uint8 parameters covering [min, max] and always 0, so ReLU's zero is exact. */
export function activationQuantization(min: number, max: number): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  // The file stores float32, so the zero point is derived from the scale as it will be read.
  const scale = Math.fround(hi > lo ? (hi - lo) / 255 : 1);
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/**
 * Symmetric int8 weights with one scale per output channel. `channelOf(i)` maps a flat index
 * to its channel. [-127, 127] rather than -128 keeps the range symmetric, as onnxruntime's own
 * quantizer does.
 */
function quantizeWeights(weight: Float32Array, channels: number, channelOf: (i: number) => number): { q: Int8Array; scales: Float32Array } {
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < weight.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(weight[i]);
    if (a > maxAbs[c]) maxAbs[c] = a;
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = maxAbs[c] > 0 ? maxAbs[c] / 127 : 1;
  const q = new Int8Array(weight.length);
  for (let i = 0; i < weight.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(weight[i] / scales[channelOf(i)])));
  return { q, scales };
}

/** int32 bias at scale inputScale * weightScale[c], the form the QLinear kernels add directly. */
function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { q: Int32Array; scales: Float32Array } {
  const scales = new Float32Array(bias.length);
  const q = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    scales[c] = inputScale * weightScales[c];
    const v = Math.round(bias[c] / scales[c]);
    if (Math.abs(v) > 2 ** 31 - 1) throw new Error(`bias ${c} does not fit int32 at scale ${scales[c]}`);
    q[c] = v;
  }
  return { q, scales };
}

export interface DemoActivationRanges {
  readonly image: { min: number; max: number };
  /** Post-ReLU conv output. */
  readonly conv: { min: number; max: number };
  /** Concatenated [conv features, state, touch]. */
  readonly features: { min: number; max: number };
  /** Post-ReLU hidden layer. */
  readonly hidden: { min: number; max: number };
}

/** Min/max of every quantized activation over the calibration set, from the reference pass. */
export function calibrateDemoNetwork(net: DemoNetwork, calibration: DemoCalibration): DemoActivationRanges {
  const { images, states, touches } = calibration;
  if (images.length === 0 || images.length !== states.length || images.length !== touches.length) {
    throw new Error(`calibration needs the same non-zero number of images, states and touches (got ${images.length}, ${states.length}, ${touches.length})`);
  }
  const range = (): { min: number; max: number } => ({ min: Infinity, max: -Infinity });
  const r = { image: range(), conv: range(), features: range(), hidden: range() };
  const grow = (into: { min: number; max: number }, values: Float32Array, from = 0, to = values.length): void => {
    for (let i = from; i < to; i++) {
      const v = values[i];
      if (v < into.min) into.min = v;
      if (v > into.max) into.max = v;
    }
  };
  const convFeatures = convOutputSize(net).features;
  const features = new Float32Array(hiddenInputSize(net));
  const hidden = new Float32Array(net.hidden.size);
  for (let s = 0; s < images.length; s++) {
    grow(r.image, images[s]);
    featuresOf(net, images[s], states[s], touches[s], features);
    grow(r.conv, features, 0, convFeatures);
    grow(r.features, features);
    grow(r.hidden, hiddenOf(net, features, hidden));
  }
  return r;
}

/** The statically quantized QDQ graph; see the file comment for its layout. */
export function demoPolicyOnnxInt8(net: DemoNetwork, calibration: DemoCalibration): Uint8Array {
  checkNetwork(net);
  const ranges = calibrateDemoNetwork(net, calibration);
  const [channels] = net.imageShape;
  const { outChannels, kernel } = net.conv;
  const inFeatures = hiddenInputSize(net);
  const hiddenSize = net.hidden.size;
  const { horizon, actionDim } = net.output;
  const nOut = horizon * actionDim;
  const g = new GraphBuilder({ name: 'demo_policy_int8', docString: 'embody demo policy, static int8 QDQ' });
  declareIo(g, net);

  /** Q then DQ of a float activation with fixed parameters; returns the dequantized tensor. */
  const qdq = (x: string, name: string, q: { scale: number; zeroPoint: number }): string => {
    const s = g.float(`${name}.scale`, [], [q.scale]);
    const zp = g.uint8(`${name}.zero_point`, [], [q.zeroPoint]);
    const quantized = g.op('QuantizeLinear', [x, s, zp], `${name}.q`);
    return g.op('DequantizeLinear', [quantized, s, zp], `${name}.dq`);
  };
  /** A constant int8 weight and its per-axis DequantizeLinear. */
  const weightDq = (name: string, dims: number[], w: { q: Int8Array; scales: Float32Array }, axis: number): string => {
    const q = g.int8(`${name}.quantized`, dims, w.q);
    const s = g.float(`${name}.scale`, [w.scales.length], w.scales);
    const zp = g.int8(`${name}.zero_point`, [w.scales.length], new Int8Array(w.scales.length));
    return g.op('DequantizeLinear', [q, s, zp], `${name}.dq`, { axis: attr.int(axis) });
  };
  const biasDq = (name: string, b: { q: Int32Array; scales: Float32Array }): string => {
    const q = g.int32(`${name}.quantized`, [b.q.length], b.q);
    const s = g.float(`${name}.scale`, [b.scales.length], b.scales);
    const zp = g.int32(`${name}.zero_point`, [b.q.length], new Int32Array(b.q.length));
    return g.op('DequantizeLinear', [q, s, zp], `${name}.dq`, { axis: attr.int(0) });
  };

  const imageQ = activationQuantization(ranges.image.min, ranges.image.max);
  const convQ = activationQuantization(0, ranges.conv.max);
  const featuresQ = activationQuantization(ranges.features.min, ranges.features.max);
  const hiddenQ = activationQuantization(0, ranges.hidden.max);

  const perConvChannel = channels * kernel * kernel;
  const convW = quantizeWeights(net.conv.weight, outChannels, (i) => Math.floor(i / perConvChannel));
  const w1 = quantizeWeights(net.hidden.weight, hiddenSize, (i) => i % hiddenSize);
  const w2 = quantizeWeights(net.output.weight, nOut, (i) => i % nOut);

  const image = qdq('image', 'image_quant', imageQ);
  const conv = g.op(
    'Conv',
    [image, weightDq('conv.weight', [outChannels, channels, kernel, kernel], convW, 0), biasDq('conv.bias', quantizeBias(net.conv.bias, imageQ.scale, convW.scales))],
    'conv',
    convAttributes(net),
  );
  const convAct = qdq(g.op('Relu', [conv], 'conv_relu'), 'conv_quant', convQ);
  const flat = g.op('Flatten', [convAct], 'conv_flat', { axis: attr.int(1) });
  const features = qdq(g.op('Concat', [flat, 'state', 'touch'], 'features', { axis: attr.int(1) }), 'features_quant', featuresQ);
  const hiddenMm = g.op('MatMul', [features, weightDq('hidden.weight', [inFeatures, hiddenSize], w1, 1)], 'hidden_mm');
  const hiddenPre = g.op('Add', [hiddenMm, biasDq('hidden.bias', quantizeBias(net.hidden.bias, featuresQ.scale, w1.scales))], 'hidden_pre');
  const hidden = qdq(g.op('Relu', [hiddenPre], 'hidden'), 'hidden_quant', hiddenQ);
  const outMm = g.op('MatMul', [hidden, weightDq('output.weight', [hiddenSize, nOut], w2, 1)], 'output_mm');
  const out = g.op('Add', [outMm, biasDq('output.bias', quantizeBias(net.output.bias, hiddenQ.scale, w2.scales))], 'output_flat');
  g.op('Reshape', [out, g.int64('actions_shape', [3], [1, horizon, actionDim])], DEMO_OUTPUT_NAME);
  return g.build();
}

/** Writes the demo policy to `file`, creating its directory. */
export function writeDemoPolicyOnnx(net: DemoNetwork, file: string, options: DemoPolicyOptions): void {
  const bytes = options.precision === 'int8' ? demoPolicyOnnxInt8(net, options.calibration) : demoPolicyOnnxFp32(net);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
}

/** DemoNetwork with plain number arrays, for JSON files. */
export interface DemoNetworkJson {
  readonly imageShape: [number, number, number];
  readonly stateSize: number;
  readonly touchSize: number;
  readonly conv: { outChannels: number; kernel: number; weight: number[]; bias: number[] };
  readonly hidden: { size: number; weight: number[]; bias: number[] };
  readonly output: { horizon: number; actionDim: number; weight: number[]; bias: number[] };
}

export function demoNetworkToJson(net: DemoNetwork): DemoNetworkJson {
  return {
    imageShape: [...net.imageShape],
    stateSize: net.stateSize,
    touchSize: net.touchSize,
    conv: { outChannels: net.conv.outChannels, kernel: net.conv.kernel, weight: Array.from(net.conv.weight), bias: Array.from(net.conv.bias) },
    hidden: { size: net.hidden.size, weight: Array.from(net.hidden.weight), bias: Array.from(net.hidden.bias) },
    output: { horizon: net.output.horizon, actionDim: net.output.actionDim, weight: Array.from(net.output.weight), bias: Array.from(net.output.bias) },
  };
}

export function demoNetworkFromJson(json: DemoNetworkJson): DemoNetwork {
  const net: DemoNetwork = {
    imageShape: [json.imageShape[0], json.imageShape[1], json.imageShape[2]],
    stateSize: json.stateSize,
    touchSize: json.touchSize,
    conv: { outChannels: json.conv.outChannels, kernel: json.conv.kernel, weight: Float32Array.from(json.conv.weight), bias: Float32Array.from(json.conv.bias) },
    hidden: { size: json.hidden.size, weight: Float32Array.from(json.hidden.weight), bias: Float32Array.from(json.hidden.bias) },
    output: { horizon: json.output.horizon, actionDim: json.output.actionDim, weight: Float32Array.from(json.output.weight), bias: Float32Array.from(json.output.bias) },
  };
  checkNetwork(net);
  return net;
}

export function readDemoNetworkJson(file: string): DemoNetwork {
  return demoNetworkFromJson(JSON.parse(readFileSync(file, 'utf8')) as DemoNetworkJson);
}

export function writeDemoNetworkJson(net: DemoNetwork, file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(demoNetworkToJson(net)) + '\n');
}

export interface RandomDemoNetworkSpec {
  readonly imageShape: readonly [number, number, number];
  readonly stateSize: number;
  readonly touchSize: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly hidden: number;
  readonly horizon: number;
  readonly actionDim: number;
}

/** The demo's size (models/build-demo-policy.ts). */
export const DEMO_NETWORK_SIZE: RandomDemoNetworkSpec = {
  imageShape: [3, 24, 32],
  stateSize: 14,
  touchSize: 4,
  outChannels: 8,
  kernel: 4,
  hidden: 256,
  horizon: 16,
  actionDim: 7,
};

/** Deterministic uniform [0, 1) generator (mulberry32), so tests and benchmarks are repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random network with fan-in scaled weights (activations stay O(1) through the layers), for
 * tests and benchmarks that need the demo's shape but not its training.
 */
export function randomDemoNetwork(spec: RandomDemoNetworkSpec = DEMO_NETWORK_SIZE, seed = 1): DemoNetwork {
  const random = seededRandom(seed);
  const uniform = (n: number, bound: number): Float32Array => Float32Array.from({ length: n }, () => (2 * random() - 1) * bound);
  const [channels, h, w] = spec.imageShape;
  const convFanIn = channels * spec.kernel * spec.kernel;
  const inFeatures = spec.outChannels * Math.floor(h / spec.kernel) * Math.floor(w / spec.kernel) + spec.stateSize + spec.touchSize;
  const nOut = spec.horizon * spec.actionDim;
  return {
    imageShape: [channels, h, w],
    stateSize: spec.stateSize,
    touchSize: spec.touchSize,
    conv: { outChannels: spec.outChannels, kernel: spec.kernel, weight: uniform(spec.outChannels * convFanIn, Math.sqrt(3 / convFanIn)), bias: uniform(spec.outChannels, 0.1) },
    hidden: { size: spec.hidden, weight: uniform(inFeatures * spec.hidden, Math.sqrt(3 / inFeatures)), bias: uniform(spec.hidden, 0.1) },
    output: { horizon: spec.horizon, actionDim: spec.actionDim, weight: uniform(spec.hidden * nOut, Math.sqrt(3 / spec.hidden)), bias: uniform(nOut, 0.1) },
  };
}

/** `count` random observations for `net`, uniform in [-1, 1]. */
export function randomDemoObservations(net: DemoNetwork, count: number, seed = 2): DemoCalibration {
  const random = seededRandom(seed);
  const uniform = (n: number): Float32Array => Float32Array.from({ length: n }, () => 2 * random() - 1);
  const [c, h, w] = net.imageShape;
  const images: Float32Array[] = [];
  const states: Float32Array[] = [];
  const touches: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    images.push(uniform(c * h * w));
    states.push(uniform(net.stateSize));
    touches.push(uniform(net.touchSize));
  }
  return { images, states, touches };
}
