/** The command line of each camera backend, and the robot.yaml fields that shape it. */
import { describe, expect, it } from 'vitest';
import { cameraSchema, fingertipSchema, type CameraDescription } from '../../../src/robot/index.js';
import { cameraCommand, fileCommand, findOnPath, gstreamerCommand, libcameraCommand, splitPipeline, v4l2Command } from '../../../src/hal/camera/index.js';

const camera = (fields: Record<string, unknown>): CameraDescription =>
  cameraSchema.parse({ name: 'wrist', width: 160, height: 120, fps: 30, ...fields });

describe('gstreamer', () => {
  it('defaults to v4l2src with fixed exposure, gain and white balance as extra-controls', () => {
    const c = gstreamerCommand(camera({ backend: 'gstreamer', device: '/dev/video2', exposure_us: 8000, gain: 16, white_balance: { kelvin: 4500 } }));
    expect(c.command).toBe('gst-launch-1.0');
    expect(c.args).toEqual([
      '-q',
      'v4l2src',
      'extra-controls=c,auto_exposure=1,exposure_time_absolute=80,gain=16,white_balance_automatic=0,white_balance_temperature=4500',
      'device=/dev/video2',
      '!',
      'decodebin',
      '!',
      'videoconvert',
      '!',
      'videoscale',
      '!',
      'video/x-raw,format=RGB,width=160,height=120',
      '!',
      'fdsink',
      'fd=1',
      'sync=false',
    ]);
    expect(c.format).toBe('rgb24');
  });

  it("fixes Jetson's nvarguscamerasrc through its own properties, keeping the user's", () => {
    const c = gstreamerCommand(
      camera({ backend: 'gstreamer', pipeline: 'nvarguscamerasrc sensor-id=0 wbmode=1 ! nvvidconv', exposure_us: 10000, gain: 2, white_balance: { kelvin: 5000 } }),
    );
    expect(c.args.slice(1, 8)).toEqual(['nvarguscamerasrc', 'exposuretimerange=10000000 10000000', 'aelock=true', 'gainrange=2 2', 'awblock=true', 'sensor-id=0', 'wbmode=1']);
    expect(c.args.indexOf('nvvidconv')).toBeGreaterThan(0);
  });

  it('fixes libcamerasrc by its controls and splits quoted values', () => {
    const c = gstreamerCommand(camera({ backend: 'gstreamer', pipeline: "libcamerasrc camera-name='/base/soc/i2c0mux/i2c@1/imx219@10'", exposure_us: 5000, white_balance: { red: 1.8, blue: 1.4 } }));
    expect(c.args).toContain('exposure-time=5000');
    expect(c.args).toContain('colour-gains=<1.8, 1.4>');
    expect(c.args).toContain('camera-name=/base/soc/i2c0mux/i2c@1/imx219@10');
    expect(splitPipeline('a b="x y" ! c')).toEqual(['a', 'b=x y', '!', 'c']);
    expect(() => splitPipeline('a "b')).toThrow(/unbalanced/);
  });
});

describe('v4l2', () => {
  it('sets the controls with v4l2-ctl before ffmpeg -f v4l2 streams raw RGB', () => {
    const c = v4l2Command(camera({ backend: 'v4l2', device: '/dev/video4', input_format: 'mjpeg', exposure_us: 2000, white_balance: { red: 1.5, blue: 1.2 }, controls: { power_line_frequency: 1, gain: 3 } }));
    expect(c.before).toEqual([
      {
        command: 'v4l2-ctl',
        args: ['-d', '/dev/video4', '--set-ctrl=auto_exposure=1,exposure_time_absolute=20,white_balance_automatic=0,red_balance=1500,blue_balance=1200,power_line_frequency=1,gain=3'],
      },
    ]);
    expect(c.command).toBe('ffmpeg');
    expect(c.args.join(' ')).toBe(
      '-hide_banner -loglevel error -nostdin -f v4l2 -input_format mjpeg -framerate 30 -video_size 160x120 -i /dev/video4 -an -vf scale=160:120 -pix_fmt rgb24 -f rawvideo pipe:1',
    );
  });
});

describe('libcamera', () => {
  it('asks rpicam-vid for raw YUV 4:2:0 on stdout with fixed shutter, gain and white balance gains', () => {
    const c = libcameraCommand(camera({ backend: 'libcamera', device: '1', exposure_us: 12000, gain: 1.5, white_balance: { red: 2.1, blue: 1.6 }, controls: { denoise: 'cdn_off' } }), '/nonexistent');
    expect(c.command).toBe('rpicam-vid');
    expect(c.format).toBe('yuv420p');
    expect(c.args).toEqual([
      '-t', '0', '-n', '--codec', 'yuv420', '--width', '160', '--height', '120', '--framerate', '30', '--flush',
      '--camera', '1', '--shutter', '12000', '--gain', '1.5', '--awbgains', '2.1,1.6', '--denoise', 'cdn_off', '-o', '-',
    ]);
  });

  it('falls back to libcamera-vid on older Raspberry Pi OS', () => {
    expect(findOnPath(['definitely-not-here-1', 'sh'])).toBe('sh');
    expect(findOnPath(['definitely-not-here-1', 'definitely-not-here-2'], '/nonexistent')).toBe('definitely-not-here-1');
  });
});

describe('file', () => {
  it('decodes at the clip rate (-re) or as fast as possible, looping on request, relative to robot.yaml', () => {
    const live = fileCommand(camera({ backend: 'file', file: 'clips/a.mkv' }), '/robots');
    expect(live.args).toEqual(['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-i', '/robots/clips/a.mkv', '-an', '-vf', 'scale=160:120', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);
    expect(live.finite).toBe(true);
    const fast = fileCommand(camera({ backend: 'file', file: '/abs/b.mp4', realtime: false, loop: true }));
    expect(fast.args.slice(4, 8)).toEqual(['-stream_loop', '-1', '-i', '/abs/b.mp4']);
    expect(fast.finite).toBe(false);
    expect(() => cameraCommand(camera({ backend: 'sim' }))).toThrow(/not a process backend/);
  });
});

describe('robot.yaml camera and fingertip fields', () => {
  it('checks backend options and per-fingertip calibration', () => {
    expect(cameraSchema.safeParse({ name: 'w', backend: 'file', width: 96, height: 72, fps: 30 }).error?.issues[0].message).toMatch(/needs file/);
    expect(cameraSchema.safeParse({ name: 'w', backend: 'v4l2', pipeline: 'x', width: 96, height: 72, fps: 30 }).error?.issues[0].message).toMatch(/applies to backend gstreamer/);
    expect(cameraSchema.safeParse({ name: 'w', backend: 'sim', width: 96, height: 72, fps: 30, white_balance: { kelvin: 100 } }).success).toBe(false);
    const pad = fingertipSchema.parse({ name: 'left_pad', camera: 'wrist', roi: [0, 0, 10, 10], calibration: { force: { scale: 30 }, threshold_sigma: 5 } });
    expect(pad.calibration?.force).toEqual({ scale: 30, exponent: 1, unit: 'N' });
    expect(fingertipSchema.safeParse({ name: 'p', camera: 'w', roi: [0, 0, 1, 1], calibration: { min_area: 2 } }).success).toBe(false);
  });
});
