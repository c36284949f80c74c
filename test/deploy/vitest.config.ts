import { defineConfig } from 'vitest/config';

// `npm run test:deploy`: the end-to-end deploy test alone (it builds bundles, boots a container and
// runs Ansible; about 10 minutes on two cores, most of it two bundle builds and the playbook runs).
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
