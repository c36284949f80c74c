/**
 * The robot description: everything robot-specific lives in robot.yaml, validated here.
 * One zod schema is the single source of truth: it validates, it types, and it prints as
 * JSON Schema (`embody schema`) for editor completion.
 */
import { z } from 'zod';
import { robotIdPattern, robotIdProblem, robotIdRule } from './robot-id.js';
import { servoArmSectionSchema, servoDriverSchema } from './servo-arm.js';
import { feetechDriverSchema, feetechSectionSchema } from './feetech.js';

const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' });
const positive = finite.refine((v) => v > 0, { message: 'must be greater than zero' });

export const jointLimitsSchema = z
  .object({
    position: z
      .tuple([finite, finite])
      .describe('[lower, upper] hard position limits, rad (revolute) or m (prismatic)'),
    velocity: positive.describe('maximum speed, rad/s or m/s'),
    acceleration: positive.describe('maximum acceleration, rad/s^2 or m/s^2'),
    jerk: positive.describe('maximum jerk, rad/s^3 or m/s^3'),
    effort: positive.describe('maximum effort, N·m (revolute) or N (prismatic)'),
    soft_margin: finite
      .refine((v) => v >= 0, { message: 'must be zero or more' })
      .default(0)
      .describe('distance inside the hard limits where speed toward the limit is scaled down'),
    rated: z
      .object({
        velocity: positive.optional(),
        acceleration: positive.optional(),
        jerk: positive.optional(),
        effort: positive.optional(),
      })
      .strict()
      .optional()
      .describe("the actuator's datasheet maxima; the limits above must not exceed them"),
    standstill: positive
      .optional()
      .describe('how far the joint may drift from a held command before FAULT; default 0.02 rad or 0.002 m'),
    following_error: positive
      .optional()
      .describe('how far the joint may lag its command while moving before FAULT; default 0.3 rad or 0.03 m'),
  })
  .strict();

export const jointDriverSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('sim') }).strict().describe('joint of the simulated plant'),
    servoDriverSchema,
    feetechDriverSchema,
  ])
  .describe('which HAL driver moves this joint');

/** One link of the serial chain, Denavit-Hartenberg free: a fixed offset then the joint axis. */
export const linkSchema = z
  .object({
    origin: z.tuple([finite, finite, finite]).describe('offset from the previous joint frame, m'),
    axis: z.enum(['x', 'y', 'z']).describe('joint axis in the joint frame'),
  })
  .strict();

export const jointSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower_snake_case, e.g. shoulder_pitch'),
    type: z.enum(['revolute', 'prismatic']),
    limits: jointLimitsSchema,
    home: finite.optional().describe('position the robot holds at boot; defaults to mid-range'),
    driver: jointDriverSchema,
    link: linkSchema.optional().describe('kinematic link that this joint moves (arm joints)'),
  })
  .strict();

const whiteBalanceSchema = z
  .union([
    z.object({ kelvin: positive.refine((v) => v >= 1500 && v <= 15000, { message: 'must be 1500-15000 K' }) }).strict(),
    z.object({ red: positive, blue: positive }).strict().describe('fixed red and blue gains (green = 1)'),
  ])
  .describe('fixed white balance: a colour temperature, or red/blue gains');

export const cameraBackends = ['sim', 'gstreamer', 'v4l2', 'libcamera', 'file'] as const;

export const cameraSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower_snake_case, e.g. wrist'),
    backend: z
      .enum(cameraBackends)
      .describe(
        'frame source: sim (rendered world), gstreamer (gst-launch-1.0 pipeline), v4l2 (ffmpeg -f v4l2), libcamera (rpicam-vid raw YUV), file (ffmpeg decoding a clip)',
      ),
    width: z.number().int().min(8).max(4096),
    height: z.number().int().min(8).max(4096),
    fps: positive.refine((v) => v <= 240, { message: 'must be at most 240' }),
    stale_after_ms: positive.default(200).describe('a frame older than this is stale'),
    device: z
      .string()
      .min(1)
      .optional()
      .describe('v4l2 and gstreamer: the video device (default /dev/video0); libcamera: the camera index (default 0)'),
    pipeline: z
      .string()
      .min(1)
      .optional()
      .describe(
        'gstreamer: the source part of the pipeline (e.g. nvarguscamerasrc sensor-id=0); embody appends videoconvert, videoscale, RGB caps at width x height and fdsink',
      ),
    input_format: z.string().min(1).optional().describe("v4l2: the pixel format asked of the camera (ffmpeg -input_format: 'mjpeg', 'yuyv422')"),
    file: z.string().min(1).optional().describe('file: the clip to decode (anything ffmpeg reads), relative to this file'),
    realtime: z.boolean().default(true).describe('file: deliver frames at the clip rate (ffmpeg -re); false: as fast as they decode'),
    loop: z.boolean().default(false).describe('file: start over at the end of the clip'),
    exposure_us: positive
      .optional()
      .describe('fixed exposure time, µs (turns auto exposure off: auto exposure defeats a brightness-difference touch estimate)'),
    gain: positive.optional().describe('fixed analogue gain (v4l2: the driver gain control value)'),
    white_balance: whiteBalanceSchema.optional(),
    controls: z
      .record(z.string().regex(/^[A-Za-z0-9_-]+$/), z.union([z.number(), z.string()]))
      .optional()
      .describe('extra camera controls: v4l2-ctl names (v4l2, gstreamer v4l2src), element properties (other gstreamer sources), rpicam-vid options without -- (libcamera)'),
    command: z.string().min(1).optional().describe('the program to run instead of the default (ffmpeg, gst-launch-1.0, rpicam-vid or libcamera-vid)'),
    stall_ms: positive.optional().describe('no frame for this long: the camera process is flagged stalled and restarted (default max(1000, 10 frame periods))'),
    restart_ms: z
      .tuple([positive, positive])
      .optional()
      .describe('[first, longest] back-off between restarts of a failed camera process, ms (default [250, 8000])'),
  })
  .strict()
  .superRefine((camera, ctx) => {
    if (camera.backend === 'file' && camera.file === undefined) ctx.addIssue({ code: 'custom', path: ['file'], message: "backend 'file' needs file: the clip to play" });
    const only = (field: 'pipeline' | 'input_format' | 'file', backends: readonly string[]): void => {
      if (camera[field] !== undefined && !backends.includes(camera.backend)) {
        ctx.addIssue({ code: 'custom', path: [field], message: `${field} applies to backend ${backends.join(' or ')}, not ${camera.backend}` });
      }
    };
    only('pipeline', ['gstreamer']);
    only('input_format', ['v4l2']);
    only('file', ['file']);
  });

export const forceCalibrationSchema = z
  .object({
    scale: positive.describe('force at force proxy 1, in unit'),
    exponent: positive.default(1).describe('force = scale * proxy^exponent'),
    unit: z.string().min(1).default('N'),
  })
  .strict()
  .describe('fitted by `embody tactile calibrate` from clips pressed with known loads');

export const fingertipSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower_snake_case, e.g. left_pad'),
    camera: z.string().describe('name of the camera that sees this pad'),
    roi: z
      .tuple([z.number().int().min(0), z.number().int().min(0), z.number().int().min(1), z.number().int().min(1)])
      .describe('[x, y, width, height] of the pad in the camera image, pixels'),
    calibration: z
      .object({
        force: forceCalibrationSchema.optional(),
        threshold_sigma: positive
          .optional()
          .describe('contact threshold in noise standard deviations for this pad (default 4)'),
        min_area: positive
          .refine((v) => v < 1, { message: 'must be a fraction of the pad below 1' })
          .optional()
          .describe('contact area (fraction of the pad) at which the contact probability is 0.5 (default 0.012)'),
      })
      .strict()
      .optional()
      .describe('per-pad tuning and force calibration; without it force is a unitless proxy'),
  })
  .strict();

const gpioLineFields = {
  chip: z.string().default('gpiochip0').describe('gpiochip name (gpiochip0) or label (pinctrl-bcm2711)'),
  line: z.number().int().min(0).describe('line offset on that chip (not the global sysfs number)'),
  active_low: z
    .boolean()
    .default(true)
    .describe('asserted when the pin is low; an e-stop whose normally-closed contact loops the pin to GND (pull-up to 3V3) reads high when pressed or cut: write false for it'),
  backend: z
    .enum(['sysfs', 'chardev'])
    .default('sysfs')
    .describe('sysfs: /sys/class/gpio (onoff\'s steps, done synchronously so the control thread owns the line); chardev: /dev/gpiochipN via the libgpiod tools'),
};

const stopCategory = z
  .union([z.literal(0), z.literal(1)])
  .default(1)
  .describe('IEC 60204-1 stop category on e-stop: 0 = drive power off and brakes on at once, 1 = controlled stop, then power off');

export const estopSchema = z
  .discriminatedUnion('kind', [
    z
      .object({ kind: z.literal('sim'), stop_category: stopCategory })
      .strict()
      .describe('simulated e-stop line (a GPIO model the HIL harness and tests toggle)'),
    z
      .object({
        kind: z.literal('gpio'),
        ...gpioLineFields,
        debounce_ms: finite
          .refine((v) => v >= 0 && v <= 100, { message: 'must be between 0 and 100 ms' })
          .default(5)
          .describe('release must be stable this long before reset is possible; pressing acts on the first sample'),
        stop_category: stopCategory,
      })
      .strict(),
    z
      .object({ kind: z.literal('none'), stop_category: stopCategory })
      .strict()
      .describe('no e-stop line (a desktop arm such as the SO-101): only the software stop (MQTT cmd/mode stop or estop, SIGTERM) and pulling the servo supply stop it; `embody check` warns'),
  ])
  .describe('the emergency-stop input line');

export const brakeOutputSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('sim') }).strict(),
    z.object({ kind: z.literal('gpio'), ...gpioLineFields }).strict(),
  ])
  .describe('brake / drive-enable output: asserted (1) = drives enabled and brakes released; the safe level is 0');

export const workspaceSchema = z
  .object({
    min: z.tuple([finite, finite, finite]).describe('lowest x, y, z of the fingertips, m, robot base frame'),
    max: z.tuple([finite, finite, finite]).describe('highest x, y, z of the fingertips, m'),
  })
  .strict();

export const safetySchema = z
  .object({
    action_timeout_ms: positive
      .refine((v) => v <= 200, { message: 'must be at most 200 ms (Universal Robots caps its own command timeout there)' })
      .default(100)
      .describe('no fresh policy action for this long: hold, then a controlled stop until actions return'),
    standstill_ms: positive
      .default(50)
      .describe('a held joint may be off its command by more than its standstill tolerance this long before FAULT'),
    workspace: workspaceSchema.optional().describe('optional box the fingertips must stay in (forward kinematics)'),
  })
  .strict();

export const policyBindingSchema = z
  .object({
    manifest: z.string().describe('path to the policy manifest (YAML), relative to this file'),
    host: z
      .enum(['process', 'inline'])
      .default('process')
      .describe('where the model runs: `process`, a child process the runtime can always interrupt (a slow model holds no command, signal or watchdog pet); `inline`, on the main thread (no hand-over cost; only for models that take well under a millisecond)'),
  })
  .strict();

const brokerFile = (what: string) => z.string().min(1).describe(`${what} (PEM or text file; relative to this file)`);
const count = z.number().int().positive();

export const telemetrySchema = z
  .object({
    state_rate_hz: positive.default(10),
    metrics_rate_hz: positive.default(1),
    tactile_rate_hz: positive.optional().describe('touch estimate messages per second (default 10)'),
    broker: z
      .object({
        url: z
          .string()
          .regex(/^(mqtts?|tcp|tls|ssl|wss?):\/\/[^/]/, 'expected mqtt://host:port or mqtts://host:port')
          .refine((url) => !/^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(url), {
            message: 'a password in the URL would end up in logs and backups: put it in a file and name it in password_file',
          })
          .describe('broker URL; --broker on the command line replaces it (embedded: the local aedes, none: no telemetry)'),
        ca_file: brokerFile('CA certificate that signed the broker certificate').optional(),
        cert_file: brokerFile("this robot's client certificate").optional(),
        key_file: brokerFile("this robot's private key").optional(),
        username: z.string().min(1).optional(),
        password_file: brokerFile('file holding the MQTT password (one trailing newline is ignored)').optional(),
        password: z
          .never({ error: 'inline passwords are not accepted: put the password in a file (mode 0600) and name it in password_file' })
          .optional(),
      })
      .strict()
      .refine((b) => (b.cert_file === undefined) === (b.key_file === undefined), {
        message: 'cert_file and key_file go together: a client certificate needs its key',
      })
      .optional()
      .describe('an MQTT broker of your own; without it `embody run` starts the embedded one'),
    outbox: z
      .object({
        max_bytes: count.optional().describe('bytes of unsent events and metrics kept on disk (default 8 MiB)'),
        max_events: count.optional().describe('unsent events kept (default 20000); an event goes only when newer ones fill the outbox'),
        max_stream: count.optional().describe('metrics samples taken offline and kept to send later (default 3600)'),
      })
      .strict()
      .optional()
      .describe('limits of the on-disk outbox for events (docs/MQTT.md)'),
  })
  .strict();

export const recordSchema = z
  .object({
    enabled: z.boolean().default(true).describe('record episodes on `embody run` (`--record DIR` turns it on without this section, `--no-record` off)'),
    dir: z.string().min(1).optional().describe('where recordings go (relative to this file); default <state dir>/recordings'),
    episodes: z
      .enum(['running', 'manual'])
      .default('running')
      .describe('`running`: an episode per RUNNING span; `manual`: only by MQTT cmd/episode start/stop'),
    segment_seconds: z.number().min(1).max(600).default(5).describe('a new MCAP segment file after this many seconds'),
    segment_bytes: count.min(65_536).default(16 * 1024 * 1024).describe('... or after this many bytes'),
    quota_bytes: count
      .default(2 * 1024 * 1024 * 1024)
      .describe('bytes all recordings in `dir` may take; when reached, recording stops with a record_quota_reached event (the robot keeps running; nothing is deleted)'),
    cameras: z.enum(['jpeg', 'off']).default('jpeg').describe('camera frames as JPEG (encoded by an ffmpeg child process) or not at all'),
    jpeg_quality: z.number().int().min(1).max(100).default(85),
  })
  .strict();

/** The HTTP face of `embody run` (src/web): live page, /metrics, /healthz, /readyz. Absent: off. */
export const httpSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1').describe('address to listen on: 127.0.0.1 (this computer only, the default) or a LAN address / 0.0.0.0 to be reached from the network'),
    port: z.number().int().min(0).max(65535).default(8080).describe('TCP port (0: any free port, printed at start)'),
    token_file: z
      .string()
      .min(1)
      .optional()
      .describe('file (mode 0600) holding the operator token that arm, reset and instruction need (relative to this file); without it the page can only stop'),
    tls: z
      .object({ cert: brokerFile('server certificate chain'), key: brokerFile("the certificate's private key") })
      .strict()
      .optional()
      .describe('serve HTTPS (and wss://) with this certificate'),
    allowed_origins: z.array(z.string().regex(/^https?:\/\/[^/]+$/, 'expected scheme://host[:port], e.g. https://robot.local:8080')).default([]).describe('extra Origins whose pages may open the live WebSocket (the page\'s own origin always may)'),
    update_hz: z.number().min(1).max(50).default(20).describe('page state updates per second (20: at least 10 on a busy main thread)'),
    camera_fps: z.number().min(0).max(30).default(10).describe('camera images per second to each page (JPEG; 0: none)'),
    camera_max_width: z.number().int().min(16).default(320).describe('wider camera images are downscaled to this width before encoding'),
  })
  .strict();

export const simSchema = z
  .object({
    seed: z.number().int().default(1),
    object: z
      .object({
        size: positive.default(0.04).describe('edge of the cube, m'),
        mass: positive.default(0.1).describe('kg'),
        spawn_center: z.tuple([finite, finite]).default([0.3, 0]).describe('x, y on the table, m'),
        spawn_radius: finite.default(0.04).describe('random offset around spawn_center, m'),
      })
      .strict()
      .default({ size: 0.04, mass: 0.1, spawn_center: [0.3, 0], spawn_radius: 0.04 }),
    camera_noise: finite.default(2).describe('pixel noise standard deviation, 0-255 scale'),
  })
  .strict();

export const robotDescriptionSchema = z
  .object({
    robot_id: z
      .string()
      .regex(robotIdPattern, { error: (issue) => (typeof issue.input === 'string' ? robotIdProblem(issue.input) : undefined) ?? `use ${robotIdRule}` })
      .describe(`the robot's name in MQTT topics (embody/<robot_id>/) and its outbox directory: ${robotIdRule}`),
    control: z
      .object({
        rate_hz: positive.refine((v) => v <= 2000, { message: 'must be at most 2000 Hz' }),
        max_consecutive_rejections: z.number().int().min(1).default(5),
        realtime_priority: z
          .number()
          .int()
          .min(0)
          .max(98)
          .default(40)
          .describe('SCHED_FIFO priority of the control thread only (needs CAP_SYS_NICE); 0 = normal scheduling'),
        max_missed_fraction: z
          .number()
          .gt(0)
          .max(1)
          .default(0.2)
          .describe('fraction of the control deadlines in the last `timing_window_ms` the loop may miss before a controlled stop (SAFE_STOP, cause "timing degraded"); half of it is reported as timing_degraded'),
        timing_window_ms: z
          .number()
          .min(100)
          .max(60_000)
          .default(1000)
          .describe('window over which missed deadlines are counted for `max_missed_fraction`, ms'),
      })
      .strict(),
    base_height: finite.default(0).describe('height of the first joint above the table, m'),
    joints: z.array(jointSchema).min(1),
    gripper: z
      .object({
        joint: z.string().describe('name of the prismatic joint that opens the fingers'),
        tip_offset: finite.default(0.1).describe('distance from the last arm joint to the fingertips, m'),
        max_force: positive
          .optional()
          .describe('squeeze limit on the gripper motor effort, N: above it the fingers back off'),
        max_touch_force: positive
          .optional()
          .describe('squeeze limit on the touch estimate (unitless until calibrated): above it the fingers back off'),
      })
      .strict()
      .optional(),
    cameras: z.array(cameraSchema).default([]),
    fingertips: z.array(fingertipSchema).default([]),
    estop: estopSchema,
    brake_output: brakeOutputSchema.optional(),
    safety: safetySchema.default({ action_timeout_ms: 100, standstill_ms: 50 }),
    policy: policyBindingSchema,
    telemetry: telemetrySchema.default({ state_rate_hz: 10, metrics_rate_hz: 1 }),
    servo_arm: servoArmSectionSchema
      .optional()
      .describe('the I2C side of an arm whose joints have `driver: { kind: servo }` (docs/HARDWARE.md)'),
    record: recordSchema.optional().describe('the episode recorder (docs/RECORDING.md)'),
    feetech: feetechSectionSchema
      .optional()
      .describe('the serial bus of an arm whose joints have `driver: { kind: feetech, id }` (SO-100/SO-101; docs/HARDWARE.md)'),
    http: httpSchema.optional().describe('the live page, Prometheus /metrics and health endpoints of `embody run` (off when absent)'),
    sim: simSchema.optional().describe('the simulated world: the plant of `driver: sim` joints, and what `--hal emulated` puts real hardware into'),
  })
  .strict();

export type RobotDescription = z.infer<typeof robotDescriptionSchema>;
export type JointDescription = z.infer<typeof jointSchema>;
export type CameraDescription = z.infer<typeof cameraSchema>;
export type FingertipDescription = z.infer<typeof fingertipSchema>;
export type SimDescription = z.infer<typeof simSchema>;
export type RecordDescription = z.infer<typeof recordSchema>;
