/**
 * `embody model inspect|bench`: what a model contains and what one run costs, measured with
 * the same session options the runtime uses.
 */
import { readFileSync, statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { policySessionOptions } from './session-options.js';

/** A model file that cannot be opened: `message` is one line naming the file and the cause. */
export class ModelFileError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'ModelFileError';
  }
}

/**
 * Opens an ONNX file given on the command line, or throws a ModelFileError: the file is checked
 * first (onnxruntime's own messages for a missing file come with a native stack), and a load
 * failure is cut to its first line ("Protobuf parsing failed" for a file that is not ONNX).
 */
export async function openModelFile(file: string, options: ort.InferenceSession.SessionOptions = policySessionOptions): Promise<ort.InferenceSession> {
  let size: number;
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) throw new ModelFileError(file, 'is a directory, not an ONNX file');
    size = stat.size;
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelFileError(file, code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(err)})`);
  }
  if (size === 0) throw new ModelFileError(file, 'file is empty, not an ONNX model');
  try {
    return await ort.InferenceSession.create(file, options);
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    // "Load model from F failed:REASON" → REASON
    const reason = first.replace(/^Load model from .* failed:\s*/, '').replace(/\.$/, '');
    throw new ModelFileError(file, `not an ONNX model onnxruntime can load (${reason || 'unknown error'})`);
  }
}

const quantizationOps = ['QuantizeLinear', 'DequantizeLinear', 'QLinearConv', 'QLinearMatMul', 'MatMulInteger', 'ConvInteger', 'DynamicQuantizeLinear'];

/**
 * Count quantization operators by their op_type strings in the protobuf. A byte scan rather
 * than a full decode: op types are length-prefixed ASCII in NodeProto, so an exact,
 * length-prefixed match does not confuse names of other strings.
 */
export function describeQuantization(file: string): string {
  const bytes = readFileSync(file);
  const counts: string[] = [];
  for (const op of quantizationOps) {
    const needle = Buffer.concat([Buffer.from([0x22, op.length]), Buffer.from(op, 'ascii')]); // field 4 (op_type), wire type 2
    let count = 0;
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) count++;
    if (count > 0) counts.push(`${op} x${count}`);
  }
  if (counts.length === 0) return 'none (float model)';
  const dynamic = counts.some((c) => c.startsWith('DynamicQuantizeLinear') || c.startsWith('ConvInteger'));
  return `${dynamic ? 'DYNAMIC (slow for convolutions: quantize statically)' : 'static (QDQ)'}: ${counts.join(', ')}`;
}

export async function benchModelFile(file: string, runs: number): Promise<{ p50Ms: number; p99Ms: number; maxMs: number }> {
  const session = await openModelFile(file);
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new Error(`${file}: input '${meta.name}' is not a tensor`);
    const dims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const size = dims.reduce((a, b) => a * b, 1);
    if (meta.type === 'float32') feeds[meta.name] = new ort.Tensor('float32', Float32Array.from({ length: size }, () => Math.random()), dims);
    else if (meta.type === 'uint8') feeds[meta.name] = new ort.Tensor('uint8', new Uint8Array(size), dims);
    else if (meta.type === 'int64') feeds[meta.name] = new ort.Tensor('int64', new BigInt64Array(size), dims);
    else throw new Error(`${file}: input '${meta.name}' has type ${meta.type}, which the bench cannot fill`);
  }
  for (let i = 0; i < 20; i++) await session.run(feeds);
  const times = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times[i] = performance.now() - t0;
  }
  await session.release();
  times.sort();
  return { p50Ms: times[Math.floor(runs * 0.5)], p99Ms: times[Math.min(runs - 1, Math.floor(runs * 0.99))], maxMs: times[runs - 1] };
}
