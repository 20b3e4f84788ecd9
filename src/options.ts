/** Defaults shared by commands: where sources come from and where the cache lives. */
import { statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { UsageError } from "./errors.js";

export const DEFAULT_BASE_URL = "https://dl.k8s.io";
export const DEFAULT_GITHUB_URL = "https://github.com";
export const ARCHES = ["amd64", "arm64", "ppc64le", "s390x"] as const;
export type Arch = (typeof ARCHES)[number];

export function baseUrl(flag?: string): string {
  const raw = flag ?? process.env.KMEM_BUILD_BASE_URL ?? DEFAULT_BASE_URL;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(
      `invalid base URL ${JSON.stringify(raw)}`,
      "give an http(s) URL such as https://dl.k8s.io",
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new UsageError(`base URL must be http or https: ${raw}`);
  }
  return raw.replace(/\/+$/, "");
}

export function githubUrl(): string {
  return (process.env.KMEM_BUILD_GITHUB_URL ?? DEFAULT_GITHUB_URL).replace(/\/+$/, "");
}

export function cacheDir(flag?: string): string {
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const dir = resolve(flag ?? process.env.KMEM_BUILD_CACHE_DIR ?? join(xdg, "kmem-build"));
  const st = statSync(dir, { throwIfNoEntry: false });
  if (st && !st.isDirectory())
    throw new UsageError(
      `the cache directory ${dir} (${flag !== undefined ? "--cache-dir" : process.env.KMEM_BUILD_CACHE_DIR ? "KMEM_BUILD_CACHE_DIR" : "the default"}) exists and is not a directory`,
      "give --cache-dir a directory of its own (it is created if missing)",
    );
  return dir;
}

export function parseArches(list: string): Arch[] {
  const out: Arch[] = [];
  for (const a of list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(ARCHES as readonly string[]).includes(a)) {
      throw new UsageError(`unknown architecture ${JSON.stringify(a)}`, `accepted: ${ARCHES.join(", ")}`);
    }
    if (!out.includes(a as Arch)) out.push(a as Arch);
  }
  if (!out.length) throw new UsageError("no architecture given", `accepted: ${ARCHES.join(", ")}`);
  return out;
}
