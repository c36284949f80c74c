/** Camera images for the page: the ffmpeg child's JPEGs decode to the frame, one in flight at a time. */
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { JpegEncoder, JpegStream } from '../../src/web/index.js';

function frame(width: number, height: number, rgb: [number, number, number]): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(rgb, i);
  return { width, height, data };
}

function meanRgb(image: { data: Uint8Array }): number[] {
  const sum = [0, 0, 0];
  for (let i = 0; i < image.data.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += image.data[i + c];
  return sum.map((s) => s / (image.data.length / 4));
}

describe('JpegStream (ffmpeg)', () => {
  it('returns one JPEG per frame that decodes to the frame, downscaled to maxWidth; a frame offered while one encodes is skipped', async () => {
    const jpegs: Buffer[] = [];
    const stream = new JpegStream({ width: 640, height: 480, maxWidth: 320, onJpeg: (j) => jpegs.push(j), onError: (m) => jpegs.push(Buffer.from(m)) });
    try {
      expect(stream.offer(frame(640, 480, [200, 30, 30]))).toBe(true);
      expect(stream.offer(frame(640, 480, [0, 0, 0]))).toBe(false);
      for (let i = 0; i < 200 && jpegs.length < 1; i++) await new Promise((r) => setTimeout(r, 25));
      expect(stream.offer(frame(640, 480, [30, 30, 200]))).toBe(true);
      for (let i = 0; i < 200 && jpegs.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      stream.close();
    }
    expect(jpegs).toHaveLength(2);
    const [red, blue] = jpegs.map((j) => jpeg.decode(j, { useTArray: true }));
    expect([red.width, red.height]).toEqual([320, 240]);
    const r = meanRgb(red);
    const b = meanRgb(blue);
    expect(r[0]).toBeGreaterThan(180);
    expect(r[2]).toBeLessThan(50);
    expect(b[2]).toBeGreaterThan(180);
    expect(b[0]).toBeLessThan(50);
  });

  it('reports a missing ffmpeg instead of throwing', async () => {
    const errors: string[] = [];
    const stream = new JpegStream({ width: 8, height: 8, maxWidth: 8, ffmpeg: '/nonexistent/ffmpeg', onJpeg: () => undefined, onError: (m) => errors.push(m) });
    stream.offer(frame(8, 8, [1, 2, 3]));
    for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    stream.close();
    expect(errors.join('\n')).toMatch(/ffmpeg/);
  });
});

describe('JpegEncoder (jpeg-js fallback)', () => {
  it('downscales to maxWidth keeping the aspect', () => {
    const image = jpeg.decode(new JpegEncoder(48).encode(frame(96, 72, [10, 200, 10])), { useTArray: true });
    expect([image.width, image.height]).toEqual([48, 36]);
    expect(meanRgb(image)[1]).toBeGreaterThan(180);
  });
});
