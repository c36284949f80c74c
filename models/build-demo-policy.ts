/**
 * Builds the bundled demo policy from data, with no downloads:
 *   1. the scripted expert (models/expert.ts) demonstrates reach-grasp-lift in the simulator;
 *   2. observations are built exactly as the runtime builds them (wrist frame -> manifest image
 *      preprocessing, joint state, touch from the estimator on the rendered pads);
 *   3. the DemoNetwork's conv and hidden layers are fixed random features; its output layer is
 *      fitted by ridge regression to the expert's next 16 actions;
 *   4. DAgger: the learned policy drives, the expert labels the states it visits, refit;
 *   5. evaluation on 20 seeds never used in training, then models/demo/{policy.yaml,
 *      demo-fp32.onnx, demo-int8.onnx}.
 * Rollouts use the runtime's own ActionQueue and JointEnvelope, so chunks are joined and
 * limited as on the robot.  Run: npx tsx models/build-demo-policy.ts
 *
 * Options (defaults build the bundled models/demo for robots/sim-arm.yaml):
 *   --robot <file>   robot.yaml whose arm and `sim` world to train in (robots/sim-arm.yaml);
 *                    any arm the expert knows (expert.ts), whatever its joints' drivers
 *   --out <dir>      where policy.yaml and the models go (models/demo)
 *   --name <name>    the manifest's name (demo-reach-grasp-lift)
 *   --prefix <p>     model file names <p>-fp32.onnx, <p>-int8.onnx (the --out directory's name)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { createJointState } from '../src/hal/types.js';
import { createRandom, renderWristFrame, SimPlant } from '../src/hal/sim/index.js';
import { loadRobotDescription } from '../src/runtime/config/robot.js';
import { ActionQueue } from '../src/runtime/action-queue.js';
import { createImagePreprocessor } from '../src/runtime/policy/image-preprocess.js';
import type { CameraInput, PolicyManifest } from '../src/runtime/policy/manifest.js';
import { JointEnvelope, limitsFromJoints } from '../src/safety/index.js';
import { createTouchEstimator } from '../src/tactile/index.js';
import { featuresOf, hiddenInputSize, hiddenOf, type DemoNetwork } from './demo-network.js';
import { createExpert } from './expert.js';
import { writeDemoPolicyOnnx } from './onnx/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_ROBOT = 'robots/sim-arm.yaml';
const DEFAULT_OUT = 'models/demo';
const DEFAULT_NAME = 'demo-reach-grasp-lift';
const { values: args } = parseArgs({
  options: {
    robot: { type: 'string', default: path.join(root, DEFAULT_ROBOT) },
    out: { type: 'string', default: path.join(root, DEFAULT_OUT) },
    name: { type: 'string', default: DEFAULT_NAME },
    prefix: { type: 'string' },
  },
  strict: true,
});
const robotFile = path.resolve(args.robot);
// Only the robot file is checked here, not its policy.manifest (which this script writes).
const robot = loadRobotDescription(robotFile);
const outDir = path.resolve(args.out);
const prefix = args.prefix ?? path.basename(outDir);
const policyName = args.name;

const POLICY_RATE = 20;
const HORIZON = 16;
const REPLAN_AFTER = 4;
const BLEND = 3;
const EPISODE_S = 8;
const HIDDEN = 768;
const RIDGE = 1e-2;
const controlRate = robot.control.rate_hz;
const dt = 1 / controlRate;
const ticksPerAction = controlRate / POLICY_RATE;
if (!Number.isInteger(ticksPerAction)) throw new Error(`${args.robot}: control.rate_hz ${controlRate} is not a multiple of the policy's ${POLICY_RATE} Hz`);
if (robot.sim === undefined || robot.gripper === undefined) throw new Error(`${args.robot}: the demo task needs a gripper and a \`sim\` world (object to lift)`);
const jointCount = robot.joints.length;
const actionDim = jointCount;
const camera = robot.cameras[0];
const pads = robot.fingertips.filter((f) => f.camera === camera.name);
const cameraInput: CameraInput = { kind: 'camera', name: 'image', camera: camera.name, width: 32, height: 24, layout: 'NCHW', channels: 'rgb', scale: 1 / 255 };
const image = createImagePreprocessor(cameraInput);
const stateSize = 2 * jointCount;
const touchSize = 2 * pads.length;

interface Sample {
  image: Float32Array;
  state: Float32Array;
  touch: Float32Array;
  label: Float32Array;
}

type Driver = { kind: 'expert' } | { kind: 'learner'; act(sample: Sample, out: Float64Array): void };

/** One episode at the control rate; records (observation, expert chunk) at every policy step. */
function episode(seed: number, driver: Driver, record: boolean): { samples: Sample[]; lifted: boolean } {
  const plant = new SimPlant(robot, seed);
  const scratch = new SimPlant(robot, seed);
  const expert = createExpert(robot, POLICY_RATE);
  const envelope = new JointEnvelope(limitsFromJoints(robot.joints), dt);
  const queue = new ActionQueue(actionDim, HORIZON, ticksPerAction, BLEND);
  const estimator = createTouchEstimator(pads, camera.width, camera.height);
  const random = createRandom(seed * 7919 + 17);
  const state = createJointState(jointCount);
  const world = new Float64Array(plant.snapshotSize);
  const frame = new Uint8Array(camera.width * camera.height * 3);
  const proposed = new Float64Array(jointCount);
  const current = new Float64Array(jointCount);
  const chunk = new Float64Array(HORIZON * actionDim);
  const samples: Sample[] = [];
  plant.readJoints(state);
  envelope.seed(state.position);
  const framePeriod = controlRate / camera.fps;
  let nextFrame = 0;
  const ticks = EPISODE_S * controlRate;
  for (let tick = 0; tick < ticks; tick++) {
    plant.readJoints(state);
    if (tick >= nextFrame) {
      plant.writeSnapshot(world);
      renderWristFrame(world, camera, pads, robot.sim?.camera_noise ?? 0, random, frame);
      estimator.update(frame);
      nextFrame += framePeriod;
    }
    if (tick % ticksPerAction === 0 && estimator.ready) {
      const sample: Sample = {
        image: new Float32Array(image.size),
        state: new Float32Array(stateSize),
        touch: new Float32Array(touchSize),
        label: new Float32Array(HORIZON * actionDim),
      };
      image.apply(frame, camera.width, camera.height, sample.image);
      for (let j = 0; j < jointCount; j++) {
        sample.state[j] = state.position[j];
        sample.state[jointCount + j] = state.velocity[j];
      }
      for (let p = 0; p < pads.length; p++) {
        sample.touch[2 * p] = estimator.contact[p];
        sample.touch[2 * p + 1] = estimator.force[p];
      }
      const due = queue.isEmpty || queue.actionsSinceJoin(tick) >= REPLAN_AFTER;
      if (record || (due && driver.kind === 'expert')) {
        expert.chunk(plant, scratch, HORIZON, ticksPerAction, chunk);
        sample.label.set(chunk);
      }
      if (record) samples.push(sample);
      if (due) {
        if (driver.kind === 'learner') driver.act(sample, chunk);
        for (let j = 0; j < jointCount; j++) current[j] = envelope.command.position(j);
        queue.join(tick, tick, chunk, 0, HORIZON, current);
      }
    }
    if (!queue.isEmpty) {
      queue.sample(tick, proposed);
      envelope.track(proposed);
    } else {
      envelope.brake();
    }
    for (let j = 0; j < jointCount; j++) proposed[j] = envelope.command.position(j);
    plant.step(proposed);
  }
  return { samples, lifted: plant.truth.lifted };
}

interface Stats {
  mean: number[];
  std: number[];
}

function stats(rows: Float32Array[], width: number, floor: number): Stats {
  const mean = new Array<number>(width).fill(0);
  const sq = new Array<number>(width).fill(0);
  for (const row of rows) for (let i = 0; i < width; i++) mean[i] += row[i] / rows.length;
  for (const row of rows) for (let i = 0; i < width; i++) sq[i] += (row[i] - mean[i]) ** 2 / rows.length;
  return { mean: mean.map(round), std: sq.map((v) => round(Math.max(floor, Math.sqrt(v)))) };
}

function imageStats(rows: Float32Array[]): Stats {
  const per = image.size / 3;
  const mean = [0, 0, 0];
  const sq = [0, 0, 0];
  for (const row of rows) for (let c = 0; c < 3; c++) for (let i = 0; i < per; i++) mean[c] += row[c * per + i] / (rows.length * per);
  for (const row of rows) for (let c = 0; c < 3; c++) for (let i = 0; i < per; i++) sq[c] += (row[c * per + i] - mean[c]) ** 2 / (rows.length * per);
  return { mean: mean.map(round), std: sq.map((v) => round(Math.max(0.02, Math.sqrt(v)))) };
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

function normalize(row: Float32Array, s: Stats, out = new Float32Array(row.length), channelSize = 0): Float32Array {
  for (let i = 0; i < row.length; i++) {
    const k = channelSize > 0 ? Math.floor(i / channelSize) : i;
    out[i] = (row[i] - s.mean[k]) / s.std[k];
  }
  return out;
}

function randomNetwork(seed: number): DemoNetwork {
  const random = createRandom(seed);
  const kernel = 4;
  const outChannels = 8;
  const convWeight = Float32Array.from({ length: outChannels * 3 * kernel * kernel }, () => random.gaussian() / Math.sqrt(3 * kernel * kernel));
  const convBias = Float32Array.from({ length: outChannels }, () => 0.2 * random.gaussian());
  const shell: DemoNetwork = {
    imageShape: [3, cameraInput.height, cameraInput.width],
    stateSize,
    touchSize,
    conv: { outChannels, kernel, weight: convWeight, bias: convBias },
    hidden: { size: HIDDEN, weight: new Float32Array(0), bias: new Float32Array(HIDDEN) },
    output: { horizon: HORIZON, actionDim, weight: new Float32Array(HIDDEN * HORIZON * actionDim), bias: new Float32Array(HORIZON * actionDim) },
  };
  const inputs = hiddenInputSize(shell);
  const imageFeatures = inputs - stateSize - touchSize;
  // State and touch are few among hundreds of image features: weight them up so the random
  // hidden units actually respond to them (touch is what tells the policy to lift).
  const weight = new Float32Array(inputs * HIDDEN);
  for (let i = 0; i < inputs; i++) {
    const gain = i < imageFeatures ? 1 : 4;
    for (let j = 0; j < HIDDEN; j++) weight[i * HIDDEN + j] = (gain * random.gaussian()) / Math.sqrt(inputs);
  }
  const bias = Float32Array.from({ length: HIDDEN }, () => 0.5 * random.gaussian());
  return { ...shell, hidden: { size: HIDDEN, weight, bias } };
}

/** Ridge regression of normalised labels on hidden activations (+1 for the bias), by Cholesky. */
class RidgeFit {
  readonly #n = HIDDEN + 1;
  readonly #m = HORIZON * actionDim;
  readonly gram = new Float64Array(this.#n * this.#n);
  readonly cross = new Float64Array(this.#n * this.#m);
  count = 0;

  add(hidden: Float32Array, target: Float32Array): void {
    const n = this.#n;
    const m = this.#m;
    const h = new Float64Array(n);
    h.set(hidden);
    h[n - 1] = 1;
    for (let i = 0; i < n; i++) {
      const hi = h[i];
      if (hi === 0) continue;
      for (let j = i; j < n; j++) this.gram[i * n + j] += hi * h[j];
      for (let k = 0; k < m; k++) this.cross[i * m + k] += hi * target[k];
    }
    this.count++;
  }

  solve(): { weight: Float32Array; bias: Float32Array } {
    const n = this.#n;
    const m = this.#m;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = this.gram[i * n + j];
    for (let i = 0; i < n - 1; i++) a[i * n + i] += RIDGE * this.count;
    a[n * n - 1] += 1e-6;
    // Cholesky: a = L L^T, in place (lower triangle).
    for (let j = 0; j < n; j++) {
      let d = a[j * n + j];
      for (let k = 0; k < j; k++) d -= a[j * n + k] ** 2;
      const ljj = Math.sqrt(d);
      a[j * n + j] = ljj;
      for (let i = j + 1; i < n; i++) {
        let s = a[i * n + j];
        for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
        a[i * n + j] = s / ljj;
      }
    }
    const x = Float64Array.from(this.cross);
    for (let c = 0; c < m; c++) {
      for (let i = 0; i < n; i++) {
        let s = x[i * m + c];
        for (let k = 0; k < i; k++) s -= a[i * n + k] * x[k * m + c];
        x[i * m + c] = s / a[i * n + i];
      }
      for (let i = n - 1; i >= 0; i--) {
        let s = x[i * m + c];
        for (let k = i + 1; k < n; k++) s -= a[k * n + i] * x[k * m + c];
        x[i * m + c] = s / a[i * n + i];
      }
    }
    return { weight: Float32Array.from(x.subarray(0, (n - 1) * m)), bias: Float32Array.from(x.subarray((n - 1) * m)) };
  }
}

function main(): void {
  const started = performance.now();
  const log = (message: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${message}`);
  const trainSeeds = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

  // 1. Expert demonstrations; they also fix the normalisation statistics.
  const demos: Sample[] = [];
  let expertLifted = 0;
  for (const seed of trainSeeds(1000, 24)) {
    const run = episode(seed, { kind: 'expert' }, true);
    demos.push(...run.samples);
    if (run.lifted) expertLifted++;
  }
  log(`expert: ${demos.length} samples from 24 demonstrations, ${expertLifted}/24 lifted`);
  const imageNorm = imageStats(demos.map((s) => s.image));
  const stateNorm = stats(demos.map((s) => s.state), stateSize, 0.01);
  const touchNorm = stats(demos.map((s) => s.touch), touchSize, 0.05);
  const actionRows: Float32Array[] = [];
  for (const s of demos) for (let k = 0; k < HORIZON; k++) actionRows.push(s.label.subarray(k * actionDim, (k + 1) * actionDim));
  const actionNorm = stats(actionRows, actionDim, 0.005);

  const net = randomNetwork(7);
  const fit = new RidgeFit();
  const plane = image.size / 3;
  const encode = (s: Sample): { hidden: Float32Array; inputs: [Float32Array, Float32Array, Float32Array] } => {
    const inputs: [Float32Array, Float32Array, Float32Array] = [normalize(s.image, imageNorm, undefined, plane), normalize(s.state, stateNorm), normalize(s.touch, touchNorm)];
    return { hidden: hiddenOf(net, featuresOf(net, ...inputs)), inputs };
  };
  const target = new Float32Array(HORIZON * actionDim);
  const calibration = { images: [] as Float32Array[], states: [] as Float32Array[], touches: [] as Float32Array[] };
  const addAll = (samples: Sample[]): void => {
    for (const s of samples) {
      const { hidden, inputs } = encode(s);
      for (let i = 0; i < target.length; i++) target[i] = (s.label[i] - actionNorm.mean[i % actionDim]) / actionNorm.std[i % actionDim];
      fit.add(hidden, target);
      if (calibration.images.length < 256 && fit.count % 7 === 0) {
        calibration.images.push(inputs[0]);
        calibration.states.push(inputs[1]);
        calibration.touches.push(inputs[2]);
      }
    }
  };
  addAll(demos);
  const refit = (): void => {
    const { weight, bias } = fit.solve();
    net.output.weight.set(weight);
    net.output.bias.set(bias);
  };
  refit();
  const learner: Driver = {
    kind: 'learner',
    act(sample, out) {
      const hidden = encode(sample).hidden;
      const n = HORIZON * actionDim;
      for (let k = 0; k < n; k++) {
        let v = net.output.bias[k];
        for (let i = 0; i < HIDDEN; i++) v += hidden[i] * net.output.weight[i * n + k];
        out[k] = v * actionNorm.std[k % actionDim] + actionNorm.mean[k % actionDim];
      }
    },
  };
  const evaluate = (seeds: number[]): number => seeds.filter((seed) => episode(seed, learner, false).lifted).length;
  log(`round 0 (behaviour cloning): ${evaluate(trainSeeds(5000, 10))}/10 lifted on validation seeds`);

  // 2. DAgger: the learner drives, the expert labels where it went.
  for (let round = 1; round <= 4; round++) {
    let lifted = 0;
    for (const seed of trainSeeds(2000 + round * 100, 16)) {
      const run = episode(seed, learner, true);
      addAll(run.samples);
      if (run.lifted) lifted++;
    }
    refit();
    log(`DAgger round ${round}: learner lifted ${lifted}/16 while collecting; ${fit.count} samples; validation ${evaluate(trainSeeds(5000, 10))}/10`);
  }

  // 3. Held-out evaluation: 20 seeds never used above.
  const testSeeds = trainSeeds(9001, 20);
  const learned = evaluate(testSeeds);
  const expertOnTest = testSeeds.filter((seed) => episode(seed, { kind: 'expert' }, false).lifted).length;
  log(`held-out seeds 9001-9020: learned policy lifted ${learned}/20, expert ${expertOnTest}/20`);

  // 4. Bundle.
  mkdirSync(outDir, { recursive: true });
  writeDemoPolicyOnnx(net, `${outDir}/${prefix}-fp32.onnx`, { precision: 'fp32' });
  writeDemoPolicyOnnx(net, `${outDir}/${prefix}-int8.onnx`, { precision: 'int8', calibration });
  const jointNames = robot.joints.map((j) => j.name);
  const manifest: PolicyManifest & { evaluation: Record<string, unknown> } = {
    name: policyName,
    model: `${prefix}-int8.onnx`,
    rate_hz: POLICY_RATE,
    replan_after: REPLAN_AFTER,
    blend_steps: BLEND,
    inputs: [
      { ...cameraInput, normalize: imageNorm },
      { kind: 'joint_state', name: 'state', joints: jointNames, fields: ['position', 'velocity'], normalize: stateNorm },
      { kind: 'touch', name: 'touch', fingertips: pads.map((p) => p.name), features: ['contact', 'force'], normalize: touchNorm },
    ],
    output: {
      name: 'actions',
      horizon: HORIZON,
      joints: jointNames,
      mode: 'absolute',
      units: robot.joints.map((j) => (j.type === 'prismatic' ? 'm' : 'rad')),
      normalize: actionNorm,
    },
    evaluation: { held_out_seeds: '9001-9020', learned_lifted: learned, expert_lifted: expertOnTest, episode_s: EPISODE_S },
  };
  const { evaluation, ...schemaManifest } = manifest;
  // The default build's header stays as it always was; another robot's names the command line.
  const relative = (file: string): string => path.relative(root, file).split(path.sep).join('/');
  const options = robotFile === path.resolve(root, DEFAULT_ROBOT) ? '' : ` --robot ${relative(robotFile)} --out ${relative(outDir)} --name ${policyName}`;
  writeFileSync(
    `${outDir}/policy.yaml`,
    `# Generated by models/build-demo-policy.ts${options} (npm run models); do not edit by hand.\n` +
      `# Held-out evaluation (${evaluation.held_out_seeds}, ${EPISODE_S} s episodes): learned ${learned}/20 lifted, expert ${expertOnTest}/20.\n` +
      stringify(schemaManifest, { lineWidth: 0, flowCollectionPadding: false }),
  );
  log(`wrote ${outDir}/{policy.yaml,${prefix}-fp32.onnx,${prefix}-int8.onnx}`);
}

main();
