import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The deploy test boots a container and runs Ansible (about 10 minutes): `npm run test:deploy`.
    exclude: [...configDefaults.exclude, 'test/deploy/**'],
    // The runtime starts worker threads and child processes; two cores cannot run many at once.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
