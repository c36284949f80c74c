/**
 * `embody hil SCENARIO... [--target sim] [--junit FILE] [--seed N]`: run each scenario, print
 * what was expected and what happened, write JUnit XML, exit non-zero on any failure.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { judge } from './expectations.js';
import { junitXml, type ScenarioResult } from './junit.js';
import { loadScenario } from './scenario.js';
import { parseRigTarget } from './rig-protocol.js';
import { runOnRig } from './rig-target.js';
import { runOnSim, type TargetRun } from './sim-target.js';
import { ConfigError } from '../runtime/index.js';

export interface HilOptions {
  readonly target: string;
  readonly junit?: string;
  readonly seed?: number;
  readonly out?: (text: string) => void;
}

export interface HilRun {
  readonly results: readonly ScenarioResult[];
  /** Digest of each scenario's run (determinism checks compare them). */
  readonly digests: ReadonlyMap<string, string>;
  readonly exitCode: number;
}

type Target = { kind: 'sim' } | { kind: 'rig'; brokerUrl: string; rigId: string };

export async function runScenario(
  file: string,
  options: { seed?: number; target?: Target } = {},
): Promise<{ result: ScenarioResult; run?: TargetRun }> {
  const started = performance.now();
  try {
    const loaded = loadScenario(file);
    const seed = options.seed === undefined ? {} : { seed: options.seed };
    const target = options.target ?? { kind: 'sim' };
    const run = target.kind === 'sim' ? await runOnSim(loaded, seed) : await runOnRig(loaded, { brokerUrl: target.brokerUrl, rigId: target.rigId, ...seed });
    const verdicts = loaded.scenario.expect.map((e) => judge(run, e));
    return { result: { name: loaded.scenario.name, file, seconds: (performance.now() - started) / 1000, verdicts }, run };
  } catch (error) {
    const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
    return { result: { name: path.basename(file, path.extname(file)), file, seconds: (performance.now() - started) / 1000, verdicts: [], error: message } };
  }
}

export async function runHil(files: readonly string[], options: HilOptions): Promise<HilRun> {
  const out = options.out ?? ((text: string) => process.stdout.write(text));
  let target: Target = { kind: 'sim' };
  if (options.target !== 'sim') {
    const rig = parseRigTarget(options.target);
    if (!rig) {
      out(`target '${options.target}' is neither 'sim' nor a rig URL like mqtt://host:1883/<rig_id> (docs/HIL.md)\n`);
      return { results: [], digests: new Map(), exitCode: 2 };
    }
    target = { kind: 'rig', ...rig };
  }
  const results: ScenarioResult[] = [];
  const digests = new Map<string, string>();
  for (const file of files) {
    const { result, run } = await runScenario(file, { target, ...(options.seed === undefined ? {} : { seed: options.seed }) });
    results.push(result);
    if (run) digests.set(result.name, run.digest);
    const failed = result.error !== undefined || result.verdicts.some((v) => !v.passed);
    out(`${failed ? 'FAIL' : 'pass'} ${result.name} (${result.seconds.toFixed(2)} s)\n`);
    if (result.error !== undefined) out(`     could not run: ${result.error.replace(/\n/g, '\n     ')}\n`);
    for (const v of result.verdicts) if (!v.passed || failed) out(`     ${v.passed ? 'ok  ' : 'FAIL'} expected ${v.expected}; happened: ${v.happened}\n`);
  }
  const failures = results.filter((r) => r.error !== undefined || r.verdicts.some((v) => !v.passed)).length;
  out(`${results.length - failures}/${results.length} scenarios passed\n`);
  if (options.junit) {
    writeFileSync(options.junit, junitXml(results));
    out(`JUnit: ${options.junit}\n`);
  }
  return { results, digests, exitCode: failures > 0 ? 1 : 0 };
}
