import { defineConfig } from 'vitest/config';

// The end-to-end deploy test (it builds bundles, boots a container and runs Ansible): `npm test`
// runs it after the unit suite, `npm run test:deploy` alone. Measured on the 2-core machine:
//   cold (fresh clone, no Debian root, no bundle cache): 408 s, plus about 40 s of apt-get in pretest
//     (debootstrap 92 s, first bundle build with Node fetch and addon compiles 48 s);
//   warm (root file system and bundle cache kept): 314-322 s.
// Both take up to twice as long when other work loads the machine (10-16 min cold, 7-13 warm seen).
export default defineConfig({
  test: {
    include: ['test/deploy/**/*.test.ts'],
    root: new URL('../..', import.meta.url).pathname,
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 1_200_000,
    reporters: ['default'],
  },
});
