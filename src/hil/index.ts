/**
 * The HIL harness's door: scenario files, the sim target on a virtual clock, judging, JUnit.
 * `embody hil` (src/cli.ts) and test/hil use only what is exported here.
 */
export { loadScenario, scenarioJsonSchema, scenarioSchema, type Expectation, type LoadedScenario, type Scenario, type Stimulus } from './scenario.js';
export { runOnSim, WATCHDOG_PERIOD_MS, type HilEvent, type TargetRun } from './sim-target.js';
export { Outputs } from './chips.js';
export { judge, limitViolations, type Verdict } from './expectations.js';
export { junitXml, type ScenarioResult } from './junit.js';
export { runHil, runScenario, type HilOptions, type HilRun } from './runner.js';
export { parseRigTarget, RIG_PROTOCOL, rigTopics, runRequestSchema, recordChunkSchema, recordDoneSchema } from './rig-protocol.js';
export { runOnRig, type RigTargetOptions } from './rig-target.js';
export { serveReferenceRig, type ReferenceRig, type ReferenceRigOptions } from './reference-rig.js';
