/**
 * The configuration door: robot.yaml, the policy manifest it names and the model, loaded and
 * checked together so that a broken setup refuses to start with every problem listed at once.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { RobotDescription } from '../../robot/index.js';
import type { PolicyManifest } from '../policy/manifest.js';
import type { PolicyHost, PolicySession } from '../policy/session.js';
import { openPolicySession } from './model-check.js';
import { crossCheck, readPolicyManifest, type RemotePolicyManifest } from './policy.js';
import { ConfigError, displayFile, sortByLine, type ConfigProblem } from './problems.js';
import { readRobotDescription, robotOutline } from './robot.js';

export { ConfigError, formatPath, formatProblem, zodIssuesToProblems, type ConfigProblem } from './problems.js';
export { checkRobotDescription, loadRobotDescription, readRobotDescription, robotJsonSchema, robotOutline } from './robot.js';
export { checkManifest, crossCheck, loadPolicyManifest, readPolicyManifest, type LoadedPolicyManifest, type RemotePolicyManifest, type RobotOutline } from './policy.js';
export { MAX_STOP_SECONDS, robotWarnings, stopSeconds } from './warnings.js';
export { checkModelAgainstManifest, openPolicySession } from './model-check.js';
export type { ModelSignature } from '../policy/session.js';

export interface LoadConfigOptions {
  /** A manifest to use instead of robot.yaml's `policy.manifest` (relative to the working directory). */
  policyOverride?: string;
  /** Where the model runs, instead of robot.yaml's `policy.host` (the HIL runs it inline, on its virtual clock). */
  policyHost?: PolicyHost;
}

export interface LoadedConfig {
  robot: RobotDescription;
  /** Absolute paths, so later messages and relative lookups do not depend on the working directory. */
  robotFile: string;
  /** The ONNX policy that runs on this machine (for an openpi source: its local fallback). */
  manifest: PolicyManifest;
  manifestFile: string;
  modelPath: string;
  session: PolicySession;
  /** An openpi source: the remote policy that drives while its server answers in time. */
  remote?: RemotePolicyManifest;
  /** Legal but suspicious values; they did not stop the load (src/runtime/config/warnings.ts). */
  warnings: ConfigProblem[];
}

function manifestFileFor(robotFile: string, data: unknown, options: LoadConfigOptions): string | undefined {
  if (options.policyOverride !== undefined) return path.resolve(options.policyOverride);
  const policy = data !== null && typeof data === 'object' ? (data as Record<string, unknown>).policy : undefined;
  const manifest = policy !== null && typeof policy === 'object' ? (policy as Record<string, unknown>).manifest : undefined;
  return typeof manifest === 'string' && manifest.length > 0 ? path.resolve(path.dirname(robotFile), manifest) : undefined;
}

/**
 * Everything that can be known without opening the model. Robot and manifest are read
 * independently, so a broken robot.yaml still gets its manifest checked in the same pass.
 */
export function collectConfigProblems(
  robotFile: string,
  options: LoadConfigOptions = {},
): { problems: ConfigProblem[]; warnings: ConfigProblem[]; robot?: RobotDescription; manifest?: PolicyManifest; manifestFile?: string; modelPath?: string; remote?: RemotePolicyManifest } {
  const file = path.resolve(robotFile);
  const robotResult = readRobotDescription(file);
  const problems: ConfigProblem[] = [...robotResult.problems];
  const manifestFile = manifestFileFor(file, robotResult.data, options);
  if (manifestFile === undefined) {
    if (robotResult.robot !== undefined) {
      problems.push({ file, path: 'policy.manifest', message: 'no policy manifest is named', fix: 'set `policy.manifest` to the manifest YAML, relative to this file' });
    }
    return { problems: sortByLine(problems), warnings: robotResult.warnings, ...(robotResult.robot ? { robot: robotResult.robot } : {}) };
  }

  const policyResult = readPolicyManifest(manifestFile);
  if (options.policyOverride === undefined && !existsSync(manifestFile)) {
    // A manifest that does not exist is robot.yaml's mistake: point at the line that names it.
    // One that exists but cannot be read or resolved is the manifest's: its own problems say why.
    problems.push({
      file,
      path: 'policy.manifest',
      message: `policy manifest not found: ${manifestFile}`,
      fix: `correct \`policy.manifest\` (it is relative to ${displayFile(path.dirname(file))}), or pass another manifest with --policy`,
    });
  } else {
    problems.push(...policyResult.problems);
  }
  const policy = policyResult.policy;
  if (policy !== undefined) {
    const robot = robotResult.robot ?? robotOutline(robotResult.data);
    problems.push(...crossCheck(robot, file, policy.manifest, policy.file));
    if (policy.remote?.fallback) problems.push(...crossCheck(robot, file, policy.remote.manifest, policy.remote.file));
  }
  return {
    problems: sortByLine(problems),
    warnings: robotResult.warnings,
    ...(robotResult.robot ? { robot: robotResult.robot } : {}),
    ...(policy ? { manifest: policy.manifest, manifestFile: policy.file, modelPath: policy.modelPath } : {}),
    ...(policy?.remote ? { remote: policy.remote } : {}),
  };
}

export async function loadConfig(robotFile: string, options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const collected = collectConfigProblems(robotFile, options);
  const { robot, manifest, manifestFile, modelPath } = collected;
  if (collected.problems.length > 0 || !robot || !manifest || !manifestFile || modelPath === undefined) {
    const n = collected.problems.length;
    throw new ConfigError(collected.problems, `refusing to start: ${n} configuration problem${n === 1 ? '' : 's'}`);
  }
  const session = collected.remote?.fallback === false ? noLocalSession() : await openPolicySession(modelPath, manifest, manifestFile, options.policyHost ?? robot.policy.host);
  return { robot, robotFile: path.resolve(robotFile), manifest, manifestFile, modelPath, session, warnings: collected.warnings, ...(collected.remote ? { remote: collected.remote } : {}) };
}

/** An openpi source with no fallback: no model runs here (the remote brain never calls this). */
function noLocalSession(): PolicySession {
  return {
    inputNames: [],
    outputNames: [],
    inputMetadata: [],
    outputMetadata: [],
    run: () => Promise.reject(new Error('no local policy: the manifest names no source.fallback')),
    release: async () => undefined,
  };
}
