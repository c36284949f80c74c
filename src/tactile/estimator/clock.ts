/**
 * The estimator's times, ms, one Float64Array cell each: a double stored in an object field or
 * passed to a setter V8 did not inline is boxed, once per frame.
 */
export class FrameClock {
  /** Time of the frame being estimated. */
  readonly now = new Float64Array(1);
  /** Time of the last frame (-Infinity before the first). */
  readonly lastFrame = Float64Array.of(-Infinity);
  /** Time since the frame before (one nominal period for the first frame). */
  readonly dt = new Float64Array(1);
}
