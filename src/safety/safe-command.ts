/**
 * The only thing an actuator driver accepts. Its constructor needs a key that only the
 * envelope module holds, so no code path can write an actuator without passing the envelope.
 */
const envelopeKey: unique symbol = Symbol('embody.envelope');
export type EnvelopeKey = typeof envelopeKey;

export class SafeCommand {
  readonly #position: Float64Array;
  #powered = true;

  constructor(key: EnvelopeKey, jointCount: number) {
    if (key !== envelopeKey) throw new TypeError('SafeCommand can only be created by the safety envelope');
    this.#position = new Float64Array(jointCount);
  }

  get length(): number {
    return this.#position.length;
  }

  /** Commanded position of joint i (rad or m). */
  position(i: number): number {
    return this.#position[i];
  }

  /**
   * False after a category 0 stop: drivers must remove drive power and engage brakes (the
   * positions then only say where the joints were when power went).
   */
  get powered(): boolean {
    return this.#powered;
  }

  /** Envelope-only write access; the key check keeps drivers from filling it themselves. */
  static writable(key: EnvelopeKey, command: SafeCommand): Float64Array {
    if (key !== envelopeKey) throw new TypeError('only the safety envelope may fill a SafeCommand');
    return command.#position;
  }

  static setPowered(key: EnvelopeKey, command: SafeCommand, powered: boolean): void {
    if (key !== envelopeKey) throw new TypeError('only the safety envelope may power the drives');
    command.#powered = powered;
  }
}

let keyTaken = false;

/**
 * Hands the key out exactly once; the envelope module claims it when it loads, so any later
 * caller (a driver trying to mint its own commands) gets an error instead of the key.
 */
export function takeEnvelopeKey(): EnvelopeKey {
  if (keyTaken) throw new Error('the envelope key was already taken by src/safety/envelope.ts');
  keyTaken = true;
  return envelopeKey;
}
