import { defineConfig } from "vitest/config";

/**
 * Four tiers, each visible from a test file's path (docs/testing.md):
 *  - fast: every other test file (name ending .test.ts); runs in about two minutes without root, podman or any
 *    network but loopback (`npm test`; scripts/test-fast-unprivileged.sh proves it as a plain user);
 *  - host: files named X.host.test.ts; need root, podman, the real cgroup v1 hierarchy, mounts or a private sshd;
 *  - real: the genuine Kubernetes tree, a real node and a real cluster (test/real/);
 *  - el7: the real CentOS/RHEL 7 kernels booted in a VM (test/el7/; skipped, saying why, where
 *    ../shared/el7-kernel is absent).
 */
// The tier is in the file name: X.host.test.ts needs the host (root, podman, cgroups, sshd).
export const HOST_TESTS = ["test/**/*.host.test.ts"];
const REAL_TESTS = ["test/real/**/*.test.ts"];
const EL7_TESTS = ["test/el7/**/*.test.ts"];
/** Every tier runs what was edited: lib/ compiled again when older than src/, a stale script stops the run. */
const FRESH = "test/helpers/fresh-build.ts";

export default defineConfig({
  test: {
    testTimeout: 600_000,
    hookTimeout: 900_000,
    // Integration tests share podman, the builder image and the Go cache: run files one at a time.
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: {
          name: "fast",
          include: ["test/**/*.test.ts"],
          exclude: [...HOST_TESTS, ...REAL_TESTS, ...EL7_TESTS],
          globalSetup: [FRESH],
        },
      },
      { extends: true, test: { name: "host", include: HOST_TESTS, globalSetup: [FRESH] } },
      { extends: true, test: { name: "real", include: REAL_TESTS, globalSetup: [FRESH] } },
      {
        extends: true,
        test: { name: "el7", include: EL7_TESTS, globalSetup: [FRESH, "test/el7/helpers/global-setup.ts"] },
      },
    ],
  },
});
