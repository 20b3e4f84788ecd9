/**
 * Latest patch release of a minor from the official `<base>/release/stable-<minor>.txt` markers,
 * cached per base URL for a short time. A 404 means the minor has no release ("no release").
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BuildError, UsageError } from "../errors.js";
import { HttpStatusError, fetchText } from "../net/http.js";
import { parseStableMarker } from "../recipes/resolve.js";
import { hashText } from "../util/hash.js";

export const MARKER_TTL_MS = 60 * 60 * 1000;

export interface MarkerResult {
  minor: string;
  url: string;
  /** null: the marker does not exist (HTTP 404). */
  version: string | null;
}

export interface MarkerOptions {
  baseUrl: string;
  cacheDir: string;
  refresh?: boolean;
  ttlMs?: number;
  retries?: number;
  concurrency?: number;
  onRetry?: (url: string, attempt: number, reason: string) => void;
}

export const markerUrl = (baseUrl: string, minor: string) => `${baseUrl}/release/stable-${minor}.txt`;

interface CacheEntry {
  url: string;
  version: string | null;
  fetchedAt: number;
}

function cacheFile(opts: MarkerOptions, minor: string): string {
  // Keyed by base URL: a mirror may lag behind dl.k8s.io.
  return join(opts.cacheDir, "release-markers", hashText(opts.baseUrl).slice(0, 16), `stable-${minor}.json`);
}

async function readCache(file: string, url: string, ttlMs: number): Promise<CacheEntry | undefined> {
  try {
    const e = JSON.parse(await readFile(file, "utf8")) as CacheEntry;
    const age = Date.now() - e.fetchedAt;
    if (e.url === url && age >= 0 && age < ttlMs && (e.version === null || typeof e.version === "string"))
      return e;
  } catch {
    /* missing or unreadable: fetch */
  }
  return undefined;
}

async function writeCache(file: string, entry: CacheEntry): Promise<void> {
  // Best effort: a read-only cache must not break the listing.
  try {
    await mkdir(join(file, ".."), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(entry) + "\n");
    await rename(tmp, file);
  } catch {
    /* ignore */
  }
}

async function fetchMarker(minor: string, opts: MarkerOptions, signal: AbortSignal): Promise<MarkerResult> {
  const url = markerUrl(opts.baseUrl, minor);
  const file = cacheFile(opts, minor);
  if (!opts.refresh) {
    const hit = await readCache(file, url, opts.ttlMs ?? MARKER_TTL_MS);
    if (hit) return { minor, url, version: hit.version };
  }
  let version: string | null;
  // A signal of its own: fetchText adds a listener per retry, which must not pile up on the shared one.
  const own = new AbortController();
  const forward = () => own.abort(signal.reason);
  signal.addEventListener("abort", forward, { once: true });
  try {
    const body = await fetchText(url, {
      retries: opts.retries ?? 3,
      stallTimeoutMs: 15_000,
      signal: own.signal,
      onRetry: (attempt, reason) => opts.onRetry?.(url, attempt, reason),
    });
    version = parseStableMarker(body, minor, url);
  } catch (err) {
    // UsageError: the marker exists but names no release of this minor.
    if (err instanceof UsageError) throw err;
    if (!(err instanceof HttpStatusError && err.status === 404)) {
      throw new BuildError(
        `cannot fetch release marker ${url}: ${(err as Error).message.replace(/^GET \S+ /, "")}`,
        "check the network, or point --base-url (env KMEM_BUILD_BASE_URL) at a reachable mirror of https://dl.k8s.io",
      );
    }
    version = null;
  } finally {
    signal.removeEventListener("abort", forward);
  }
  await writeCache(file, { url, version, fetchedAt: Date.now() });
  return { minor, url, version };
}

/** Fetches the markers of `minors` with at most `concurrency` requests in flight; first failure wins. */
export async function latestReleases(
  minors: readonly string[],
  opts: MarkerOptions,
): Promise<MarkerResult[]> {
  const results: MarkerResult[] = new Array(minors.length);
  const abort = new AbortController();
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < minors.length && failure === undefined) {
      const i = next++;
      try {
        results[i] = await fetchMarker(minors[i]!, opts, abort.signal);
      } catch (err) {
        if (failure === undefined) failure = err;
        abort.abort(err);
      }
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 6, minors.length));
  await Promise.all(Array.from({ length: n }, worker));
  if (failure !== undefined) throw failure;
  return results;
}
