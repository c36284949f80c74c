/**
 * The rig target end to end: the runner sends scenarios over MQTT to the reference rig (which
 * serves the rig protocol from the simulator) and judges the records it streams back. The
 * records must be the very runs the sim target makes (same digests), and an absent rig must
 * be reported, not waited for forever.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHil, serveReferenceRig, type ReferenceRig } from '../../src/hil/index.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/telemetry/index.js';

// The last two run on the emulated HAL: event messages, outputs and a hardware that never opened cross the protocol too.
const scenarios = ['estop-press-latches-fault.yaml', 'policy-nan.yaml', 'joint-sensor-jump.yaml', 'i2c-encoder-nack.yaml', 'i2c-wrong-id-at-power-up.yaml'].map((f) =>
  path.resolve(import.meta.dirname, 'scenarios', f),
);

let broker: EmbeddedBroker;
let rig: ReferenceRig;

beforeAll(async () => {
  broker = await startEmbeddedBroker({ port: 0 });
  rig = await serveReferenceRig({ brokerUrl: broker.url, rigId: 'ci-rig', root: process.cwd() });
});

afterAll(async () => {
  await rig.close();
  await broker.close();
});

describe('HIL rig target', () => {
  it('runs scenarios on the reference rig with the same outcome and the same runs as the sim target', async () => {
    const lines: string[] = [];
    const onRig = await runHil(scenarios, { target: `${broker.url}/ci-rig`, out: (t) => lines.push(t) });
    expect(lines.join('')).toMatch(/5\/5 scenarios passed/);
    expect(onRig.exitCode).toBe(0);
    const onSim = await runHil(scenarios, { target: 'sim', out: () => undefined });
    expect([...onRig.digests.entries()]).toEqual([...onSim.digests.entries()]);
  }, 60_000);

  it('reports a rig that is not online instead of waiting', async () => {
    const lines: string[] = [];
    const result = await runHil([scenarios[0]], { target: `${broker.url}/no-such-rig`, out: (t) => lines.push(t) });
    expect(result.exitCode).toBe(1);
    expect(result.results[0].error).toMatch(/rig no-such-rig is not online/);
  }, 20_000);

  it('refuses a target that is neither sim nor a rig URL', async () => {
    const lines: string[] = [];
    const result = await runHil([scenarios[0]], { target: 'http://example/rig', out: (t) => lines.push(t) });
    expect(result.exitCode).toBe(2);
    expect(lines.join('')).toMatch(/neither 'sim' nor a rig URL/);
  });
});
