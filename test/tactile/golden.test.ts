/**
 * The estimator's outputs are pinned: every readout field of every pad of every frame of the
 * golden clips (golden-cases.ts) hashes to the digest recorded from the estimator before its
 * restructuring into stages (the restructured one matched it bit for bit, field by field, in a
 * one-off check against a verbatim copy of the old file). A change meant to alter what the
 * estimator reports changes these digests: re-record them in the same commit and say why.
 */
import { describe, expect, it } from 'vitest';
import { createTouchEstimator, touchReadoutFieldNames } from '../../src/tactile/index.js';
import { digestCase, FIELDS, goldenCases, type Paths } from './golden-cases.js';

const DIGESTS: Record<string, string> = {
  'pressure levels 6-40 N, sim noise': 'ed085f03aba7eca3e2204a01f13622fb0742f0551d0963932d0a6172f545a133',
  'sensor noise sigma 4': '70cc59effb5c8601c5bd87619ca2d7a18b2722be8b02ddc43fd446ee35b9c7ff',
  'lighting steps -30 %..+35 %': '1d88f864172d7ab44245ad1360cd923048601ca6371879da0ed5cd3f608f98d0',
  'lighting drift +-30 %': '1c5a7a62e549f626ced53159a6f764f3df1e59a547e0507528f0443c0f35794c',
  'camera motion 0.6 px, slow': '6e565d7a03f2ca584ab141b355a90dadcadbd8422d6858e207164de309df3707',
  'camera shake sigma 0.15 px': 'b1518b1c42926e7bf780c4a24096202eef409f3b5d2751c8e0db337a0509e659',
  'noise + lighting + motion': 'd144598f241afed1b4f114ea088436dc8f868475a7be15edba5ef336dee83296',
  'sensor noise sigma 6': '8f135c89e647a83bac54e3dade2e67ae5da9632ca695abbfed6172c571c9140d',
  'camera motion 1.2 px, slow': '972502e3799edf94152fad52b9258dd83a80e52ae68f4a4ce9992048c4d97b90',
  'shear ramp': '8062a1c08db44fb0df86c2402e3155e98b6fb1d1e800e0e5e63803c949fd12c6',
  'partial slip': 'b7554c91545a471e040aa7a36ecd42ccd2082e5c6702b6b1cec9e393e51de6b6',
  'lighting fault and saturation': 'f32c812e658397443c27193d3e7bdf9719cb72c7a7e83104cee126fecd82b1da',
  'drift with fast adaptation, calibration, fixed smoothing': '4befbb0dedf96f2858ff24b6e0d1821d6eda0d95fde0ca4e739fd2a533376bde',
  'timestamps, dropped frames, stalls, stale checks, reference resets': '2e37bf67934cbdb99b6ccb1a1955de50b9afed494fc3d27996e26622afe61721',
  'other options: working size 16, 3 patches, radius 3, 4 reference frames, no instant on': 'fbe6ee9183f53cc6b756e530ceab3d492264611b80d2dcec9f178a90567240ae',
  'one ROI 160x120 with motion and shear': '88b8d9f7076e80f22bb1c22546e0d0f3f101ebf20220ebe88d9d82b6a5535771',
  'two pads in a 640x480 frame': 'c36c8d238182be1e3f849d920b3d9a9c00c1908db722105e8e004510f48248de',
};

describe('touch estimator golden digests', () => {
  const all: Paths = { flags: 0, slip: 0, inContact: 0, calibrated: 0 };
  it('digests every readout field', () => {
    expect([...FIELDS].sort()).toEqual([...touchReadoutFieldNames].sort());
    expect(Object.keys(DIGESTS)).toEqual(goldenCases.map((c) => c.name));
  });
  for (const c of goldenCases) {
    it(c.name, () => {
      const { digest, paths } = digestCase(c, createTouchEstimator);
      all.flags |= paths.flags;
      all.slip |= paths.slip;
      all.inContact |= paths.inContact;
      all.calibrated |= paths.calibrated;
      expect(digest).toBe(DIGESTS[c.name]);
    });
  }
  it('the clips took every path: all eight flags, slip, contact, a calibrated force', () => {
    expect(all).toEqual({ flags: 0xff, slip: 1, inContact: 1, calibrated: 1 });
  });
});
