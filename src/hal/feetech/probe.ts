/**
 * `embody check` for a Feetech arm: open the port robot.yaml names and ask every servo, read-only
 * (no torque, no EPROM write): PING, Model_Number, and the feedback block (position, voltage,
 * temperature) with its status error bits. One line per servo, with the fix for what is wrong.
 */
import type { FeetechArmConfig } from '../../robot/index.js';
import { HardwareError } from '../types.js';
import { FeetechBus } from './bus.js';
import { FEEDBACK_ADDRESS, FEEDBACK_LENGTH, STS3215_MODEL_NUMBER, SignBit, Sts, decodeSignMagnitude, statusErrorFixes, statusErrorNames, u16 } from './protocol.js';
import { TtySerialPort, type SerialLink } from './serial.js';

export interface FeetechServoProbe {
  readonly id: number;
  readonly joint: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly fix?: string;
}

export interface FeetechProbe {
  readonly port: string;
  /** Set when the port itself could not be opened. */
  readonly portError?: string;
  readonly latencyTimerMs?: number;
  readonly servos: readonly FeetechServoProbe[];
}

function probeServo(bus: FeetechBus, id: number, joint: string): FeetechServoProbe {
  let error = bus.ping(id, 20);
  if (error === undefined) error = bus.ping(id, 20);
  if (error === undefined) {
    return { id, joint, ok: false, detail: 'no answer to PING', fix: `check the servo's supply and cable, that its id is ${id} (lerobot-setup-motors) and that its baud rate is the bus's` };
  }
  const model = bus.read(id, Sts.MODEL_NUMBER[0], 2, 20);
  const number = model ? u16(model.data, 0) : -1;
  if (number !== STS3215_MODEL_NUMBER) {
    return { id, joint, ok: false, detail: model ? `model number ${number}, not an STS3215 (${STS3215_MODEL_NUMBER})` : 'no answer to READ Model_Number', fix: 'check that the servo at this id is the one robot.yaml names' };
  }
  const block = bus.read(id, FEEDBACK_ADDRESS, FEEDBACK_LENGTH, 20);
  if (block === undefined) return { id, joint, ok: false, detail: 'no answer to READ of the feedback registers 56..63', fix: 'a marginal cable or supply: reseat the daisy chain' };
  const position = decodeSignMagnitude(u16(block.data, 0), SignBit.POSITION);
  const text = `STS3215, position ${position} steps, ${(block.data[6] / 10).toFixed(1)} V, ${block.data[7]} °C`;
  const bits = error | block.error;
  if (bits !== 0) return { id, joint, ok: false, detail: `${text}; status error 0x${bits.toString(16)} (${statusErrorNames(bits)})`, fix: statusErrorFixes(bits) };
  return { id, joint, ok: true, detail: text };
}

export function probeFeetechArm(config: FeetechArmConfig, openLink?: (config: FeetechArmConfig) => SerialLink): FeetechProbe {
  const port = config.serial.port;
  let link: SerialLink;
  let latencyTimerMs: number | undefined;
  try {
    if (openLink) link = openLink(config);
    else {
      const tty = new TtySerialPort(port, { baudRate: config.serial.baud_rate });
      latencyTimerMs = tty.latencyTimerMs;
      link = tty;
    }
  } catch (error) {
    return { port, portError: error instanceof HardwareError ? error.message : String(error), servos: [] };
  }
  try {
    const bus = new FeetechBus(link, config.serial.baud_rate);
    const servos = config.joints.map((j) => probeServo(bus, j.id, j.name));
    return { port, ...(latencyTimerMs !== undefined ? { latencyTimerMs } : {}), servos };
  } finally {
    link.close();
  }
}

export function formatFeetechProbe(probe: FeetechProbe): string {
  if (probe.portError !== undefined) return `  ${probe.portError}\n`;
  const lines = probe.servos.map((s) => `  ${s.ok ? 'ok  ' : 'FAIL'} servo ${s.id} '${s.joint}': ${s.detail}${s.fix ? `\n       fix: ${s.fix}` : ''}`);
  if (probe.latencyTimerMs !== undefined && probe.latencyTimerMs > 1) {
    lines.push(`  warn USB latency timer ${probe.latencyTimerMs} ms (replies wait that long in the adapter); fix: run as root once, or a udev rule writing 1 to latency_timer (docs/HARDWARE.md)`);
  }
  return `${lines.join('\n')}\n`;
}
