import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    // Integration tests share podman, the builder image and the Go cache: run files one at a time.
    fileParallelism: false,
  },
});
