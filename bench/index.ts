/**
 * `embody bench [NAME]` / `npm run bench -- NAME`: every benchmark beside its anchor in the
 * same run, reported as a ratio, JSON written to bench/results/.
 *   loop       tick lateness at 100/200/500 Hz, idle and full pipeline, beside cyclictest
 *   inference  runtime inference path beside a bare session.run() loop
 *   startup    process start to READY=1 and peak RSS (built CLI)
 *   model      demo policy fp32 beside int8 (static QDQ)
 *   safety     envelope cost per tick (7 joints) beside a timer-only and a plain-clamp anchor
 *   tactile    touch estimator cost per frame per pad, by ROI size
 *   hal        one I/O tick of the 6-servo I2C preset on the emulated bus, and its 400 kHz bus time
 *   record     tick p99 and missed ticks with recording on vs off (96x72, 640x480), bytes/s per channel, JPEG encode time, export time
 *   feetech    the SO-101's Feetech bus on a pty: bytes and 1 Mbps time per tick, exchange p50/p99, max rate, lateness bus on vs off
 *   remote     openpi round trip on loopback beside a bare echo + model; chunk splicing at 100/300 ms beside a naive splice
 *   telemetry  MQTT message sizes, publish-to-subscriber latency beside a bare client, loop lateness with and without
 *   web        JPEG cost per camera image for the live page; loop lateness with two pages open beside none
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchInference } from './inference.js';
import { benchLoop } from './loop.js';
import { benchStartup } from './startup.js';

const root = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '..' : '../..', import.meta.url));
const robotFile = `${root}robots/sim-arm.yaml`;
const names = ['inference', 'model', 'startup', 'loop', 'safety', 'telemetry', 'hal', 'feetech', 'tactile', 'record', 'web', 'remote'] as const;

export async function benchCommand(name: string | undefined, options: { seconds?: number }): Promise<number> {
  const selected = name ? [name] : [...names];
  const unknown = selected.filter((n) => !(names as readonly string[]).includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark '${unknown.join("', '")}'; choose from ${names.join(', ')}\n`);
    return 2;
  }
  const results: Record<string, unknown> = { machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, at: new Date().toISOString() };
  for (const bench of selected) {
    if (bench === 'loop') results.loop = await benchLoop(robotFile, { seconds: options.seconds });
    if (bench === 'inference') {
      const r = await benchInference(robotFile);
      results.inference = r;
      process.stdout.write(
        `inference: bare session.run p50 ${r.bareP50Ms.toFixed(3)} ms, runtime path p50 ${r.runtimeP50Ms.toFixed(3)} ms -> overhead ${(100 * r.overhead).toFixed(1)}% (target <= 10%); of which building the observation ${r.observationP50Ms.toFixed(3)} ms; in the policy process (default host) p50 ${r.processP50Ms.toFixed(3)} ms, p99 ${r.processP99Ms.toFixed(3)} ms -> ${(100 * r.processOverhead).toFixed(0)}% over bare (the IPC round trip)\n`,
      );
    }
    if (bench === 'startup') {
      const r = await benchStartup();
      results.startup = r;
      process.stdout.write(`startup: READY=1 after ${r.readyMs.toFixed(0)} ms (target <= 1500), peak RSS ${r.peakRssMb} MB (target <= 250)\n`);
    }
    if (bench === 'safety') {
      const { benchSafety } = await import('./safety.js');
      const r = benchSafety();
      results.safety = r;
      for (const [stream, s] of Object.entries(r.streams)) {
        process.stdout.write(
          `safety: envelope, ${r.joints} joints, ${stream} targets: p50 ${s.p50Us.toFixed(2)} µs, p99 ${s.p99Us.toFixed(2)} µs (target <= 5), max ${s.maxUs.toFixed(1)} µs, ${s.p99OverClamp.toFixed(1)}x a plain clamp, ${s.bytesPerTick.steady.toFixed(3)} bytes/tick steady (worst round ${s.bytesPerTick.worstRound.toFixed(1)})\n`,
        );
      }
      process.stdout.write(
        `safety: braking p99 ${r.brake.p99Us.toFixed(2)} µs, ${r.brake.bytesPerTick.steady.toFixed(3)} bytes/tick steady (worst round ${r.brake.bytesPerTick.worstRound.toFixed(1)}); anchors: timer p99 ${r.timerUs.p99.toFixed(2)} µs, plain clamp p99 ${r.clampUs.p99.toFixed(2)} µs -> ${r.met ? 'met' : 'NOT met'}\n`,
      );
    }
    if (bench === 'record') {
      const { benchRecord, formatRecord } = await import('./record.js');
      const r = await benchRecord(robotFile, { seconds: options.seconds });
      results.record = r;
      process.stdout.write(formatRecord(r));
    }
    if (bench === 'tactile') {
      const { benchTactile, formatTactile } = await import('./tactile.js');
      const r = benchTactile();
      results.tactile = r;
      process.stdout.write(formatTactile(r));
      try {
        const { benchTactileOpenCv, formatTactileOpenCv } = await import('./tactile-opencv.js');
        const anchor = await benchTactileOpenCv({ robotFile });
        results.tactileOpenCv = anchor;
        process.stdout.write(formatTactileOpenCv(anchor));
      } catch (error) {
        // A production bundle has no dev dependencies; say so rather than fail the tactile bench.
        process.stdout.write(`tactile: OpenCV.js anchor not run (${(error as Error).message})\n`);
      }
    }
    if (bench === 'remote') {
      const { benchRemote } = await import('./remote.js');
      results.remote = await benchRemote();
    }
    if (bench === 'hal') {
      const { benchHal, formatHal } = await import('./hal.js');
      const r = benchHal();
      results.hal = r;
      process.stdout.write(formatHal(r) + '\n');
    }
    if (bench === 'feetech') {
      const { benchFeetech, formatFeetech } = await import('./feetech.js');
      const r = await benchFeetech({ seconds: options.seconds });
      results.feetech = r;
      process.stdout.write(formatFeetech(r));
    }
    if (bench === 'telemetry') {
      const { benchTelemetry, formatTelemetry } = await import('./telemetry.js');
      const r = await benchTelemetry({ robotFile, loopSeconds: options.seconds });
      results.telemetry = r;
      process.stdout.write(formatTelemetry(r) + '\n');
    }
    if (bench === 'web') {
      const { benchWeb, formatWeb } = await import('./web.js');
      const r = await benchWeb({ robotFile, seconds: options.seconds });
      results.web = r;
      process.stdout.write(formatWeb(r) + '\n');
    }
    if (bench === 'model') {
      const { benchModelPrecision } = await import('./model-precision.js');
      const r = await benchModelPrecision();
      results.model = r;
      process.stdout.write(`model: fp32 p50 ${r.fp32.p50Us.toFixed(1)} µs, int8 p50 ${r.int8.p50Us.toFixed(1)} µs, fp32/int8 ${r.ratio.toFixed(2)}\n`);
    }
  }
  const directory = `${root}bench/results`;
  mkdirSync(directory, { recursive: true });
  const file = `${directory}/${name ?? 'all'}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(`results: ${file}\n`);
  return 0;
}
