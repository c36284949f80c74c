/**
 * The ONNX model against its manifest. onnxruntime would only complain at the first run() with a
 * terse shape error, after the robot has been armed; checking the declared inputs and outputs at
 * load turns that into a refusal to start that says which manifest field to change.
 */
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { PolicyInput, PolicyManifest } from '../policy/manifest.js';
import { ProcessSession } from '../policy/process-session.js';
import type { ModelSignature, PolicyHost, PolicySession } from '../policy/session.js';
import { policySessionOptions } from '../policy/session-options.js';
import { ConfigError, ProblemList, didYouMean, displayFile, lineLookup, type ConfigProblem, type FieldPath } from './problems.js';


type Dim = number | string;
/** Expected dimensions; `batch` marks the leading dimension, which may be symbolic. */
type ExpectedShape = { dims: readonly number[]; note: string };

function expectedInput(input: PolicyInput): ExpectedShape[] {
  switch (input.kind) {
    case 'joint_state':
      return [{ dims: [1, input.joints.length * input.fields.length], note: `[1, joints × fields]` }];
    case 'camera': {
      const c = input.channels === 'gray' ? 1 : 3;
      return input.layout === 'NCHW'
        ? [{ dims: [1, c, input.height, input.width], note: '[1, C, H, W] (layout NCHW)' }]
        : [{ dims: [1, input.height, input.width, c], note: '[1, H, W, C] (layout NHWC)' }];
    }
    case 'touch':
      return [{ dims: [1, input.fingertips.length * input.features.length], note: '[1, fingertips × features]' }];
    case 'instruction':
      return [{ dims: [1, input.max_length], note: '[1, max_length]' }];
  }
}

function allowedTypes(input: PolicyInput): readonly string[] {
  // The observation builder writes instruction bytes as uint8, or widened to int64 for models
  // with an embedding lookup; every other input is float32.
  return input.kind === 'instruction' ? ['uint8', 'int64'] : ['float32'];
}

function showShape(shape: readonly Dim[]): string {
  return `[${shape.map((d) => (typeof d === 'string' ? (d === '' ? '?' : d) : String(d))).join(', ')}]`;
}

/** A leading batch dimension may be left open (symbolic or -1); the runtime always feeds 1. */
function isOpenBatch(d: Dim): boolean {
  return typeof d === 'string' || d === -1 || d === 1;
}

function compareShape(actual: readonly Dim[], expected: readonly number[]): { ok: boolean; symbolic: string[] } {
  const symbolic: string[] = [];
  if (actual.length !== expected.length) return { ok: false, symbolic };
  let ok = true;
  actual.forEach((d, i) => {
    if (i === 0) {
      if (!isOpenBatch(d)) ok = false;
      return;
    }
    if (typeof d === 'string' || d < 0) {
      symbolic.push(typeof d === 'string' && d !== '' ? d : `dim ${i}`);
      ok = false;
    } else if (d !== expected[i]) ok = false;
  });
  return { ok, symbolic };
}

function shapeFix(input: PolicyInput, actual: readonly Dim[]): string {
  const fixed = actual.map((d) => (typeof d === 'number' ? d : NaN));
  switch (input.kind) {
    case 'joint_state':
      if (actual.length === 2 && Number.isFinite(fixed[1])) {
        return `the model takes ${fixed[1]} values; list joints × fields to match (now ${input.joints.length} × ${input.fields.length}), or re-export the model`;
      }
      break;
    case 'touch':
      if (actual.length === 2 && Number.isFinite(fixed[1])) {
        return `the model takes ${fixed[1]} values; list fingertips × features to match (now ${input.fingertips.length} × ${input.features.length})`;
      }
      break;
    case 'instruction':
      if (actual.length === 2 && Number.isFinite(fixed[1])) return `set \`max_length: ${fixed[1]}\``;
      break;
    case 'camera':
      if (actual.length === 4 && fixed.slice(1).every(Number.isFinite)) {
        const [, a, b, c] = fixed;
        if (a === 1 || a === 3) return `the model looks NCHW: set \`layout: NCHW\`, \`height: ${b}\`, \`width: ${c}\`, channels ${a === 1 ? 'gray' : 'rgb or bgr'}`;
        if (c === 1 || c === 3) return `the model looks NHWC: set \`layout: NHWC\`, \`height: ${a}\`, \`width: ${b}\`, channels ${c === 1 ? 'gray' : 'rgb or bgr'}`;
      }
      break;
  }
  return 'make the manifest describe the model, or re-export the model with this shape';
}

export function checkModelAgainstManifest(
  session: ModelSignature,
  manifest: PolicyManifest,
  manifestFile: string,
  modelFile: string,
): ConfigProblem[] {
  const out = new ProblemList(manifestFile, lineLookup(manifestFile));
  const model = displayFile(modelFile);
  const inputs = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const fed = new Set<string>();

  manifest.inputs.forEach((input, i) => {
    const base: FieldPath = ['inputs', i];
    const meta = inputs.get(input.name);
    if (meta === undefined) {
      const spare = session.inputNames.filter((n) => !manifest.inputs.some((x) => x.name === n));
      const guess = didYouMean(input.name, spare.length > 0 ? spare : session.inputNames);
      out.add(
        [...base, 'name'],
        `${model} has no input named \`${input.name}\` (its inputs: ${session.inputNames.join(', ') || 'none'})`,
        guess !== undefined ? `set \`name: ${guess}\`` : `use one of the model's input names: ${session.inputNames.join(', ')}`,
      );
      return;
    }
    fed.add(input.name);
    if (!meta.isTensor) {
      out.add([...base, 'name'], `${model} input \`${input.name}\` is not a tensor`, 'policy inputs must be tensors; re-export the model');
      return;
    }
    const types = allowedTypes(input);
    if (!types.includes(meta.type)) {
      out.add([...base, 'name'], `${model} input \`${input.name}\` has element type ${meta.type}; a ${input.kind} input is fed as ${types.join(' or ')}`, `re-export the model with a ${types.join(' or ')} input`);
    }
    const [expected] = expectedInput(input);
    if (meta.shape.length === 0) {
      out.add([...base, 'name'], `${model} does not declare a shape for input \`${input.name}\``, `re-export the model with the static shape ${showShape(expected.dims)}`);
      return;
    }
    const cmp = compareShape(meta.shape, expected.dims);
    if (cmp.symbolic.length > 0) {
      out.add(
        [...base, 'name'],
        `${model} input \`${input.name}\` has symbolic dimension(s) ${cmp.symbolic.join(', ')} in ${showShape(meta.shape)}; the runtime feeds fixed sizes`,
        `re-export the model with the static shape ${showShape(expected.dims)} (only the batch dimension may stay open)`,
      );
    } else if (!cmp.ok) {
      out.add(
        [...base, 'name'],
        `${model} input \`${input.name}\` has shape ${showShape(meta.shape)}, but the manifest describes ${showShape(expected.dims)} ${expected.note}`,
        shapeFix(input, meta.shape),
      );
    }
  });

  for (const name of session.inputNames) {
    if (!fed.has(name) && !manifest.inputs.some((x) => x.name === name)) {
      const meta = inputs.get(name);
      const shape = meta?.isTensor ? ` ${meta.type} ${showShape(meta.shape)}` : '';
      out.add(['inputs'], `${model} input \`${name}\`${shape} is not fed by any manifest input`, `add an entry for \`${name}\` under inputs (joint_state, camera, touch or instruction)`);
    }
  }

  const o = manifest.output;
  const meta = session.outputMetadata.find((m) => m.name === o.name);
  const expected = [1, o.horizon, o.joints.length];
  if (meta === undefined) {
    const guess = didYouMean(o.name, session.outputNames);
    out.add(
      ['output', 'name'],
      `${model} has no output named \`${o.name}\` (its outputs: ${session.outputNames.join(', ') || 'none'})`,
      guess !== undefined ? `set \`name: ${guess}\`` : `use one of the model's output names: ${session.outputNames.join(', ')}`,
    );
  } else if (!meta.isTensor) {
    out.add(['output', 'name'], `${model} output \`${o.name}\` is not a tensor`, 'the action output must be a float32 tensor [1, horizon, joints]');
  } else {
    if (meta.type !== 'float32') {
      out.add(['output', 'name'], `${model} output \`${o.name}\` has element type ${meta.type}`, 're-export the model with a float32 action output');
    }
    const cmp = meta.shape.length === 0 ? { ok: false, symbolic: [] } : compareShape(meta.shape, expected);
    if (cmp.symbolic.length > 0) {
      out.add(
        ['output', 'name'],
        `${model} output \`${o.name}\` has symbolic dimension(s) ${cmp.symbolic.join(', ')} in ${showShape(meta.shape)}`,
        `re-export the model with the static output shape ${showShape(expected)}`,
      );
    } else if (!cmp.ok) {
      const [, h, d] = meta.shape;
      const hints: string[] = [];
      if (meta.shape.length === 3 && typeof h === 'number' && h !== o.horizon) hints.push(`\`horizon: ${h}\``);
      if (meta.shape.length === 3 && typeof d === 'number' && d !== o.joints.length) hints.push(`${d} output joints (now ${o.joints.length})`);
      out.add(
        meta.shape.length === 3 && typeof h === 'number' && h !== o.horizon ? ['output', 'horizon'] : ['output', 'joints'],
        `${model} output \`${o.name}\` has shape ${showShape(meta.shape)}, but the manifest describes ${showShape(expected)} [1, horizon, joints]`,
        hints.length > 0 ? `set ${hints.join(' and ')} to match the model` : 'the action output must be [1, horizon, joints]; re-export the model',
      );
    }
  }
  return out.problems;
}

/**
 * Opens the policy where robot.yaml says it runs (a policy process by default, see
 * policy/process-session.ts) with the runtime's single-threaded, non-spinning options, and checks
 * it against the manifest. The session is released again if it does not match.
 */
export async function openPolicySession(
  modelPath: string,
  manifest: PolicyManifest,
  manifestFile: string,
  host: PolicyHost = 'inline',
): Promise<PolicySession> {
  let session: PolicySession;
  try {
    session = host === 'process' ? await ProcessSession.open(modelPath) : await ort.InferenceSession.create(modelPath, policySessionOptions);
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new ConfigError(
      [
        {
          file: modelPath,
          path: '(file)',
          message: `onnxruntime cannot load the model: ${reason}`,
          fix: `check that ${path.basename(modelPath)} is a complete ONNX file (re-export or rebuild it) and that \`model\` in ${displayFile(manifestFile)} points at it`,
        },
      ],
      `${displayFile(modelPath)}: cannot load the policy model`,
    );
  }
  const problems = checkModelAgainstManifest(session, manifest, manifestFile, modelPath);
  if (problems.length > 0) {
    await session.release();
    const n = problems.length;
    throw new ConfigError(problems, `${displayFile(modelPath)} does not match ${displayFile(manifestFile)} (${n} problem${n === 1 ? '' : 's'})`);
  }
  return session;
}
