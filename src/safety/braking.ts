/**
 * Closed-form braking of one joint under acceleration limit A and jerk limit J: how far it
 * still travels, and how fast it still gets, if it starts braking now. The envelope keeps
 * every command inside the set of states from which such a stop stays within the limits, so
 * whatever the policy does next, a stop is always possible (a viability kernel).
 *
 * Written by hand because no library does this allocation-free per tick: an online
 * trajectory generator (Ruckig, Reflexxes) plans whole profiles; the envelope only needs the
 * time-optimal stop. The profile is the classic jerk-limited one: jerk -J until the
 * deceleration reaches A (or less, for short stops), hold, then jerk +J so that velocity and
 * acceleration reach zero together. Continuous-time formulas; the envelope's discrete steps
 * brake slightly earlier than the formula assumes, and it keeps an extra margin (see
 * envelope.ts) for the part where they brake later.
 */

/** Stopping distance from velocity v >= 0 with zero acceleration. */
export function cruiseStopDistance(v: number, A: number, J: number): number {
  if (v <= (A * A) / J) return v * Math.sqrt(v / J);
  // Trapezoid: point-symmetric velocity profile, so the mean velocity is v / 2.
  return 0.5 * v * ((2 * A) / J + (v - (A * A) / J) / A);
}

/**
 * Slots of the buffer stopDistanceUpIn reads and writes. The hot path passes doubles this way
 * because V8 boxes a double argument or return value of any call it does not inline.
 */
export const Brake = { V: 0, A: 1, MAX_ACCELERATION: 2, JERK: 3, DISTANCE: 4, SIZE: 5 } as const;

/**
 * buffer[DISTANCE] := how much further in +direction the joint travels before standstill when
 * it brakes optimally from velocity buffer[V] and acceleration buffer[A] (signed, + toward the
 * upper limit). Zero when it is not heading up and will not start heading up.
 */
export function stopDistanceUpIn(buffer: Float64Array): void {
  const v = buffer[Brake.V];
  const a = buffer[Brake.A];
  const A = buffer[Brake.MAX_ACCELERATION];
  const J = buffer[Brake.JERK];
  const knee = (A * A) / J;
  let d: number;
  if (a > 0) {
    // First bring the acceleration to zero (jerk -J); braking proper starts from there.
    const t = a / J;
    const vz = v + (a * a) / (2 * J);
    if (vz <= 0) d = 0;
    else {
      const cruise = vz <= knee ? vz * Math.sqrt(vz / J) : 0.5 * vz * ((2 * A) / J + (vz - knee) / A);
      d = v * t + 0.5 * a * t * t - (J * t * t * t) / 6 + cruise;
      if (d < 0) d = 0;
    }
  } else if (v <= 0) {
    d = 0;
  } else {
    // Already decelerating: the state lies on the profile that started at zero acceleration
    // with velocity vz, unless it decelerates harder than that profile ever would.
    const vz = v + (a * a) / (2 * J);
    const root = Math.sqrt(J * vz);
    const peak = A < root ? A : root;
    if (-a <= peak) {
      const t = -a / J;
      const cruise = vz <= knee ? vz * Math.sqrt(vz / J) : 0.5 * vz * ((2 * A) / J + (vz - knee) / A);
      d = cruise - (vz * t - (J * t * t * t) / 6);
    } else {
      // Over-braking: velocity reaches zero while the acceleration is still ramping up to zero.
      const t = (-a - Math.sqrt(a * a - 2 * J * v)) / J;
      d = v * t + 0.5 * a * t * t + (J * t * t * t) / 6;
    }
  }
  buffer[Brake.DISTANCE] = d;
}

const scratch = new Float64Array(Brake.SIZE);

/** stopDistanceUpIn for callers off the hot path (tests, setup). */
export function stopDistanceUp(v: number, a: number, A: number, J: number): number {
  scratch[0] = v;
  scratch[1] = a;
  scratch[2] = A;
  scratch[3] = J;
  stopDistanceUpIn(scratch);
  return scratch[4];
}

/**
 * An upper bound on how far a joint can still travel from any state the envelope lets it
 * reach, counting the next tick: nearer a limit than this, the position check must run; farther,
 * only velocity, acceleration and jerk can bind.
 */
export function maxReach(V: number, A: number, J: number, dt: number): number {
  return cruiseStopDistance(V, A, J) + (V * A) / J + 3 * V * dt;
}
