/**
 * Loading a policy manifest and checking it against the robot it is meant to drive. The manifest
 * is the only place that ties model tensors to joint names and units, so every mismatch here
 * would otherwise surface as a robot moving the wrong joint or by the wrong amount.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { policyManifestSchema, type OpenpiSource, type PolicyInput, type PolicyManifest } from '../policy/manifest.js';
import {
  ConfigError,
  ProblemList,
  didYouMean,
  displayFile,
  lineLookup,
  readYamlFile,
  validateSource,
  type ConfigProblem,
  type FieldPath,
} from './problems.js';

export interface LoadedPolicyManifest {
  manifest: PolicyManifest;
  /** Absolute path of the ONNX file, resolved relative to the manifest (for openpi: the fallback's, or '' with none). */
  modelPath: string;
  /** The manifest file, as given. */
  file: string;
  /** An openpi source: the remote manifest, its key, and (above) the local fallback it stands on. */
  remote?: RemotePolicyManifest;
}

export interface RemotePolicyManifest {
  manifest: PolicyManifest;
  source: OpenpiSource;
  file: string;
  /** The key from `source.api_key_file`, trimmed. */
  apiKey?: string;
  /** A local policy stands beneath it (`source.fallback`); without one, `modelPath` is ''. */
  fallback: boolean;
}

export interface PolicyReadResult {
  policy?: LoadedPolicyManifest;
  problems: ConfigProblem[];
}

/**
 * Reads the manifest and checks its form and that the model file exists, without throwing.
 * Consistency (lengths, names, units) is `checkManifest`/`crossCheck`'s job. An openpi manifest
 * is read with its local fallback, which is what `policy` then describes, the remote beside it.
 */
export function readPolicyManifest(file: string): PolicyReadResult {
  const parsed = readYamlFile(file);
  if (!parsed.ok) return { problems: parsed.problems };
  const validated = validateSource(policyManifestSchema, parsed.source);
  if (!validated.ok) return { problems: validated.problems };
  const manifest = validated.value;
  const problem = (at: string, message: string, fix: string): PolicyReadResult => {
    const line = parsed.source.lineOf(at.split('.'));
    return { problems: [{ file, path: at, ...(line === undefined ? {} : { line }), message, fix }] };
  };
  if (manifest.source?.kind === 'openpi') return readRemote(file, manifest, manifest.source, problem);
  if (manifest.model === undefined) return problem('model', 'no model is named', 'set `model` to the ONNX file, relative to this manifest, or give `source: { kind: openpi, url: ... }`');
  const modelPath = path.resolve(path.dirname(file), manifest.model);
  if (!existsSync(modelPath) || !statSync(modelPath).isFile()) {
    return problem(
      'model',
      `model file not found: ${modelPath}`,
      `correct the path (it is relative to ${displayFile(path.dirname(file)) || '.'}), or build the model first (e.g. \`npm run models\`)`,
    );
  }
  return { policy: { manifest, modelPath, file }, problems: [] };
}

type ProblemAt = (at: string, message: string, fix: string) => PolicyReadResult;

function readRemote(file: string, manifest: PolicyManifest, source: OpenpiSource, problem: ProblemAt): PolicyReadResult {
  const here = path.dirname(file);
  if (manifest.model !== undefined) return problem('model', 'an openpi policy runs on its server: `model` is not used', 'remove `model`; name a local ONNX manifest to fall back on with `source.fallback`');
  const camera = manifest.inputs.findIndex((input) => input.kind === 'camera' && input.normalize !== undefined);
  if (camera >= 0) return problem(`inputs.${camera}.normalize`, 'an openpi server takes images as uint8 bytes: there is nothing to normalise here', 'remove `normalize`; the server normalises its own inputs');
  let apiKey: string | undefined;
  if (source.api_key_file !== undefined) {
    const keyFile = path.resolve(here, source.api_key_file);
    try {
      apiKey = readFileSync(keyFile, 'utf8').trim();
    } catch (error) {
      return problem('source.api_key_file', `cannot read ${keyFile} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, 'point at a file that holds the server\'s API key');
    }
  }
  if (source.fallback === undefined) {
    // Nothing runs here: when the server cannot answer the loop holds, and the pipeline's error limit stops it.
    return { policy: { manifest, modelPath: '', file, remote: { manifest, source, file, fallback: false, ...(apiKey === undefined ? {} : { apiKey }) } }, problems: [] };
  }
  const fallbackFile = path.resolve(here, source.fallback);
  const local = readPolicyManifest(fallbackFile);
  if (local.policy === undefined) return local;
  if (local.policy.remote !== undefined) return problem('source.fallback', `${displayFile(fallbackFile)} is itself an openpi policy`, 'name a local ONNX manifest as the fallback');
  const fallback = local.policy.manifest;
  const o = manifest.output;
  const f = fallback.output;
  if (f.joints.join(',') !== o.joints.join(',') || fallback.rate_hz !== manifest.rate_hz || f.horizon > o.horizon) {
    return problem(
      'source.fallback',
      `the fallback ${displayFile(fallbackFile)} does not drive the same joints at the same rate within this horizon (joints ${f.joints.join(', ')} at ${fallback.rate_hz} Hz, horizon ${f.horizon})`,
      `a fallback needs output joints ${o.joints.join(', ')}, rate_hz ${manifest.rate_hz} and a horizon of at most ${o.horizon}`,
    );
  }
  const remote: RemotePolicyManifest = { manifest, source, file, fallback: true, ...(apiKey === undefined ? {} : { apiKey }) };
  return { policy: { ...local.policy, remote }, problems: [] };
}

export function loadPolicyManifest(file: string): LoadedPolicyManifest {
  const result = readPolicyManifest(file);
  if (result.policy === undefined) {
    const n = result.problems.length;
    throw new ConfigError(result.problems, `${displayFile(file)}: policy manifest has ${n} problem${n === 1 ? '' : 's'}`);
  }
  return result.policy;
}

/** Element count of an input as the model sees it after flattening (channels for images). */
export function inputWidth(input: PolicyInput): number {
  switch (input.kind) {
    case 'joint_state':
      return input.joints.length * input.fields.length;
    case 'camera':
      return input.channels === 'gray' ? 1 : 3;
    case 'touch':
      return input.fingertips.length * input.features.length;
    case 'instruction':
      return input.max_length;
  }
}

function widthExplained(input: PolicyInput): { what: string; order: string } {
  switch (input.kind) {
    case 'joint_state':
      return {
        what: `${input.joints.length} joint(s) × ${input.fields.length} field(s)`,
        order: input.joints.flatMap((j) => input.fields.map((f) => `${j}.${f}`)).join(', '),
      };
    case 'camera':
      return { what: `${input.channels} has ${inputWidth(input)} channel(s)`, order: input.channels === 'gray' ? 'gray' : input.channels.split('').join(', ') };
    case 'touch':
      return {
        what: `${input.fingertips.length} fingertip(s) × ${input.features.length} feature(s)`,
        order: input.fingertips.flatMap((t) => input.features.map((f) => `${t}.${f}`)).join(', '),
      };
    case 'instruction':
      return { what: `${input.max_length} bytes`, order: '' };
  }
}

function checkNormalize(
  out: ProblemList,
  base: FieldPath,
  normalize: { mean: number[]; std: number[] } | undefined,
  expected: number,
  what: string,
  order: string,
): void {
  if (normalize === undefined) return;
  for (const key of ['mean', 'std'] as const) {
    const n = normalize[key].length;
    if (n !== expected) {
      const shown = order.length > 0 && order.length <= 600 ? ` in this order: ${order}` : '';
      out.add([...base, 'normalize', key], `has ${n} value(s), but ${what} = ${expected}`, `give exactly ${expected} ${key} value(s)${shown}`);
    }
  }
}

function checkDuplicates(out: ProblemList, base: FieldPath, names: readonly string[], noun: string): void {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else out.add([...base, i], `${noun} \`${name}\` is listed twice (also at index ${first})`, `remove one; each ${noun} appears once`);
  });
}

/** Internal consistency of a manifest; needs no robot. */
export function checkManifest(manifest: PolicyManifest, manifestFile: string, lineOf = lineLookup(manifestFile)): ConfigProblem[] {
  const out = new ProblemList(manifestFile, lineOf);
  const firstName = new Map<string, number>();
  manifest.inputs.forEach((input, i) => {
    const base: FieldPath = ['inputs', i];
    const first = firstName.get(input.name);
    if (first === undefined) firstName.set(input.name, i);
    else out.add([...base, 'name'], `input name \`${input.name}\` is already used by inputs[${first}]`, 'give each input the name of a different ONNX input');
    if (input.name === manifest.output.name) {
      out.add([...base, 'name'], `input \`${input.name}\` has the same name as the output`, 'use the ONNX input name here; ONNX tensor names are unique');
    }
    const { what, order } = widthExplained(input);
    switch (input.kind) {
      case 'joint_state':
        checkDuplicates(out, [...base, 'joints'], input.joints, 'joint');
        checkDuplicates(out, [...base, 'fields'], input.fields, 'field');
        checkNormalize(out, base, input.normalize, inputWidth(input), `input \`${input.name}\` has ${what}`, order);
        break;
      case 'camera':
        checkNormalize(out, base, input.normalize, inputWidth(input), `camera input \`${input.name}\` (${what})`, order);
        break;
      case 'touch':
        checkDuplicates(out, [...base, 'fingertips'], input.fingertips, 'fingertip');
        checkDuplicates(out, [...base, 'features'], input.features, 'feature');
        checkNormalize(out, base, input.normalize, inputWidth(input), `input \`${input.name}\` has ${what}`, order);
        break;
      case 'instruction':
        break;
    }
  });

  const o = manifest.output;
  checkDuplicates(out, ['output', 'joints'], o.joints, 'joint');
  if (o.units.length !== o.joints.length) {
    out.add(['output', 'units'], `has ${o.units.length} unit(s) for ${o.joints.length} joint(s)`, `give one unit per output joint, in order (${o.joints.join(', ')}): rad for revolute, m for prismatic`);
  }
  checkNormalize(out, ['output'], o.normalize, o.joints.length, `the output has ${o.joints.length} joint(s)`, o.joints.join(', '));
  if (manifest.replan_after >= o.horizon) {
    out.add(
      ['replan_after'],
      `replan_after ${manifest.replan_after} is not below the horizon ${o.horizon}: the chunk runs out before the next one is asked for`,
      `set replan_after below ${o.horizon}, e.g. ${Math.max(1, Math.floor(o.horizon / 2))}`,
    );
  }
  if (manifest.blend_steps > o.horizon) {
    out.add(['blend_steps'], `blend_steps ${manifest.blend_steps} is longer than the horizon ${o.horizon}`, `set blend_steps to at most ${o.horizon}`);
  }
  return out.problems;
}

function unknownName(out: ProblemList, at: FieldPath, name: string, known: readonly string[], noun: string, robotFile: string): void {
  const guess = didYouMean(name, known);
  out.add(
    at,
    `${displayFile(robotFile)} has no ${noun} named \`${name}\``,
    known.length === 0
      ? `the robot defines no ${noun}s: remove this input, or add the ${noun} to ${displayFile(robotFile)}`
      : `${guess ? `did you mean \`${guess}\`? ` : ''}use one of: ${known.join(', ')}`,
  );
}

/**
 * What the cross check needs of a robot. A full RobotDescription is one; so is the outline of a
 * robot.yaml that failed its own checks, which lets both files be checked in the same pass.
 */
export interface RobotOutline {
  control?: { rate_hz: number };
  joints: readonly { name: string; type?: string }[];
  cameras: readonly { name: string }[];
  fingertips: readonly { name: string }[];
}

/**
 * The manifest against the robot: every name it uses exists, units match joint types, rates fit
 * the control loop. Includes `checkManifest`, so this one call covers the manifest's meaning.
 */
export function crossCheck(
  robot: RobotOutline,
  robotFile: string,
  manifest: PolicyManifest,
  manifestFile: string,
): ConfigProblem[] {
  const lineOf = lineLookup(manifestFile);
  const problems = checkManifest(manifest, manifestFile, lineOf);
  const out = new ProblemList(manifestFile, lineOf);
  const joints = new Map(robot.joints.map((j) => [j.name, j]));
  const jointNames = robot.joints.map((j) => j.name);
  const cameraNames = robot.cameras.map((c) => c.name);
  const fingertipNames = robot.fingertips.map((f) => f.name);

  manifest.inputs.forEach((input, i) => {
    const base: FieldPath = ['inputs', i];
    switch (input.kind) {
      case 'joint_state':
        input.joints.forEach((name, j) => {
          if (!joints.has(name)) unknownName(out, [...base, 'joints', j], name, jointNames, 'joint', robotFile);
        });
        break;
      case 'camera':
        if (!cameraNames.includes(input.camera)) unknownName(out, [...base, 'camera'], input.camera, cameraNames, 'camera', robotFile);
        break;
      case 'touch':
        input.fingertips.forEach((name, j) => {
          if (!fingertipNames.includes(name)) unknownName(out, [...base, 'fingertips', j], name, fingertipNames, 'fingertip', robotFile);
        });
        break;
      case 'instruction':
        break;
    }
  });

  const o = manifest.output;
  o.joints.forEach((name, j) => {
    const joint = joints.get(name);
    if (joint === undefined) {
      unknownName(out, ['output', 'joints', j], name, jointNames, 'joint', robotFile);
      return;
    }
    const unit = o.units[j];
    const expected = joint.type === 'revolute' ? 'rad' : joint.type === 'prismatic' ? 'm' : undefined;
    if (unit !== undefined && expected !== undefined && unit !== expected) {
      out.add(
        ['output', 'units', j],
        `unit \`${unit}\` for joint \`${name}\`, which is ${joint.type} in ${displayFile(robotFile)}`,
        `use \`${expected}\` (${joint.type} joints move in ${expected === 'rad' ? 'radians' : 'metres'}); if the model really outputs ${unit === 'rad' ? 'radians' : 'metres'}, it was trained for another body`,
      );
    }
  });

  if (robot.control !== undefined && robot.control.rate_hz / manifest.rate_hz < 1) {
    out.add(
      ['rate_hz'],
      `rate_hz ${manifest.rate_hz} is faster than the control loop (${robot.control.rate_hz} Hz in ${displayFile(robotFile)}): actions would be skipped`,
      `set rate_hz to at most ${robot.control.rate_hz}, or raise control.rate_hz in ${displayFile(robotFile)}`,
    );
  }
  return [...problems, ...out.problems];
}
