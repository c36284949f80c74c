/**
 * The demo policy's network, shared by the trainer (build-demo-policy.ts), the ONNX writer
 * (onnx/) and the tests that compare onnxruntime's output with this reference forward pass.
 *
 *   image [1,C,H,W] -> Conv(k, stride k) -> ReLU -> Flatten ─┐
 *   state [1,S] ─────────────────────────────────────────────┼─ Concat -> MatMul+Add -> ReLU
 *   touch [1,T] ─────────────────────────────────────────────┘      -> MatMul+Add -> Reshape [1,H,D]
 *
 * The convolution and the hidden layer are fixed random features; only the output layer is
 * fitted (ridge regression), which keeps training a single linear solve with no downloads.
 * All inputs and outputs are normalised: the manifest carries the statistics.
 */
export interface DemoNetwork {
  /** [channels, height, width] of the image input. */
  readonly imageShape: readonly [number, number, number];
  readonly stateSize: number;
  readonly touchSize: number;
  readonly conv: {
    readonly outChannels: number;
    /** Square kernel; the stride equals the kernel (non-overlapping patches). */
    readonly kernel: number;
    /** [outChannels, channels, kernel, kernel], row-major. */
    readonly weight: Float32Array;
    readonly bias: Float32Array;
  };
  readonly hidden: {
    readonly size: number;
    /** [inFeatures, size], row-major: feature i contributes weight[i * size + j] to unit j. */
    readonly weight: Float32Array;
    readonly bias: Float32Array;
  };
  readonly output: {
    readonly horizon: number;
    readonly actionDim: number;
    /** [hidden.size, horizon * actionDim], row-major. */
    readonly weight: Float32Array;
    readonly bias: Float32Array;
  };
}

export function convOutputSize(net: DemoNetwork): { height: number; width: number; features: number } {
  const [, h, w] = net.imageShape;
  const height = Math.floor(h / net.conv.kernel);
  const width = Math.floor(w / net.conv.kernel);
  return { height, width, features: net.conv.outChannels * height * width };
}

export function hiddenInputSize(net: DemoNetwork): number {
  return convOutputSize(net).features + net.stateSize + net.touchSize;
}

/** Concatenated [conv features, state, touch] in ONNX order (NCHW flatten). */
export function featuresOf(
  net: DemoNetwork,
  image: Float32Array,
  state: Float32Array,
  touch: Float32Array,
  out: Float32Array = new Float32Array(hiddenInputSize(net)),
): Float32Array {
  const [channels, h, w] = net.imageShape;
  const { kernel, outChannels, weight, bias } = net.conv;
  const { height: oh, width: ow } = convOutputSize(net);
  let o = 0;
  for (let oc = 0; oc < outChannels; oc++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let sum = bias[oc];
        for (let c = 0; c < channels; c++) {
          for (let ky = 0; ky < kernel; ky++) {
            const row = (c * h + oy * kernel + ky) * w + ox * kernel;
            const wRow = ((oc * channels + c) * kernel + ky) * kernel;
            for (let kx = 0; kx < kernel; kx++) sum += image[row + kx] * weight[wRow + kx];
          }
        }
        out[o++] = sum > 0 ? sum : 0;
      }
    }
  }
  out.set(state, o);
  out.set(touch, o + state.length);
  return out;
}

/** Hidden activations relu(features · W1 + b1). */
export function hiddenOf(net: DemoNetwork, features: Float32Array, out = new Float32Array(net.hidden.size)): Float32Array {
  const { size, weight, bias } = net.hidden;
  out.set(bias);
  for (let i = 0; i < features.length; i++) {
    const f = features[i];
    if (f === 0) continue;
    const base = i * size;
    for (let j = 0; j < size; j++) out[j] += f * weight[base + j];
  }
  for (let j = 0; j < size; j++) if (out[j] < 0) out[j] = 0;
  return out;
}

/** Reference forward pass: normalised action chunk, [horizon * actionDim] row-major. */
export function forward(net: DemoNetwork, image: Float32Array, state: Float32Array, touch: Float32Array): Float32Array {
  const hidden = hiddenOf(net, featuresOf(net, image, state, touch));
  const { horizon, actionDim, weight, bias } = net.output;
  const n = horizon * actionDim;
  const out = new Float32Array(bias);
  for (let i = 0; i < hidden.length; i++) {
    const a = hidden[i];
    if (a === 0) continue;
    const base = i * n;
    for (let j = 0; j < n; j++) out[j] += a * weight[base + j];
  }
  return out;
}
