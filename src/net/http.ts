/**
 * HTTP for fetching sources, checksums and release markers: bounded retries on transient
 * failures (connection errors, 5xx, 429), a per-request stall timeout, a redirect limit,
 * and downloads written to a temporary file that is renamed only when complete.
 */
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { BuildError, UsageError } from "../errors.js";

export interface HttpOptions {
  retries?: number; // extra attempts after the first, for transient failures
  /** Abort a request when no bytes arrive for this long. */
  stallTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (received: number, total: number | undefined) => void;
  /** Called before each retry with the reason, for progress output. */
  onRetry?: (attempt: number, reason: string) => void;
  maxRedirects?: number;
}

const DEFAULTS = { retries: 3, stallTimeoutMs: 30_000, maxRedirects: 5 };

/** The stall timeout: the option, else env KMEM_BUILD_HTTP_TIMEOUT_MS (slow links, tests), else 30 s. */
function stallTimeoutMs(opts: HttpOptions): number {
  if (opts.stallTimeoutMs !== undefined) return opts.stallTimeoutMs;
  const env = process.env.KMEM_BUILD_HTTP_TIMEOUT_MS;
  if (env === undefined || env === "") return DEFAULTS.stallTimeoutMs;
  if (!/^\d+$/.test(env) || Number(env) < 1) {
    throw new UsageError(
      `KMEM_BUILD_HTTP_TIMEOUT_MS must be a whole number of milliseconds, not ${JSON.stringify(env)}`,
      "unset it for the default (30000), or give e.g. KMEM_BUILD_HTTP_TIMEOUT_MS=60000",
    );
  }
  return Number(env);
}

export class HttpStatusError extends BuildError {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(
      `GET ${url} answered HTTP ${status}`,
      status === 404
        ? "check the version exists and the base URL (--base-url / KMEM_BUILD_BASE_URL)"
        : undefined,
    );
  }
}

function transient(err: unknown): boolean {
  if (err instanceof HttpStatusError) return err.status >= 500 || err.status === 429;
  if (err instanceof UsageError) return false;
  if (err instanceof BuildError && /redirect/.test(err.message)) return false;
  return true; // network errors, resets, stalls
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => (clearTimeout(t), reject(signal!.reason));
    const t = setTimeout(() => (signal?.removeEventListener("abort", onAbort), resolve()), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

async function withRetries<T>(url: string, opts: HttpOptions, once: () => Promise<T>): Promise<T> {
  const retries = opts.retries ?? DEFAULTS.retries;
  for (let attempt = 0; ; attempt++) {
    try {
      return await once();
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      if (attempt >= retries || !transient(err)) {
        if (err instanceof BuildError || err instanceof UsageError) throw err;
        throw new BuildError(
          `GET ${url} failed after ${attempt + 1} attempt(s): ${describe(err)}`,
          "check the network or the base URL (--base-url / KMEM_BUILD_BASE_URL); for air-gapped builds use --source",
        );
      }
      opts.onRetry?.(attempt + 1, describe(err));
      await sleep(Math.min(250 * 2 ** attempt, 4000), opts.signal);
    }
  }
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.cause?.code) return `${e.cause.code}${e.cause.message ? ` (${e.cause.message})` : ""}`;
  // e.g. undici's "fetch failed" whose cause says why ("bad port", "other side closed").
  if (e?.cause?.message) return `${e.message}: ${e.cause.message}`;
  return e?.message ?? String(err);
}

/** One GET with manual redirects and a stall timer; returns the response with an unread body. */
async function get(url: string, opts: HttpOptions, stall: AbortController): Promise<Response> {
  let current = url;
  const seen = new Set<string>();
  for (let hops = 0; ; hops++) {
    const res = await fetch(current, {
      redirect: "manual",
      signal: AbortSignal.any([stall.signal, ...(opts.signal ? [opts.signal] : [])]),
    });
    if (res.status >= 300 && res.status < 400 && res.headers.get("location")) {
      await res.body?.cancel();
      const next = new URL(res.headers.get("location")!, current).toString();
      if (seen.has(next) || hops >= (opts.maxRedirects ?? DEFAULTS.maxRedirects)) {
        throw new BuildError(`GET ${url}: too many redirects (loop through ${next})`, "check the base URL");
      }
      seen.add(next);
      current = next;
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new HttpStatusError(url, res.status);
    }
    return res;
  }
}

function stallTimer(ms: number) {
  const ctl = new AbortController();
  let t = setTimeout(() => ctl.abort(new Error(`no data for ${ms} ms (stalled)`)), ms);
  return {
    ctl,
    kick() {
      clearTimeout(t);
      t = setTimeout(() => ctl.abort(new Error(`no data for ${ms} ms (stalled)`)), ms);
    },
    stop: () => clearTimeout(t),
  };
}

export async function fetchText(url: string, opts: HttpOptions = {}): Promise<string> {
  return withRetries(url, opts, async () => {
    const timer = stallTimer(stallTimeoutMs(opts));
    try {
      const res = await get(url, opts, timer.ctl);
      return await res.text();
    } catch (err) {
      throw timer.ctl.signal.aborted ? timer.ctl.signal.reason : err;
    } finally {
      timer.stop();
    }
  });
}

/** Downloads to `${dest}.part`, renames to dest when the whole body arrived; never leaves the .part. */
export async function downloadFile(url: string, dest: string, opts: HttpOptions = {}): Promise<void> {
  const part = `${dest}.part`;
  try {
    await withRetries(url, opts, async () => {
      const timer = stallTimer(stallTimeoutMs(opts));
      try {
        const res = await get(url, opts, timer.ctl);
        const total = Number(res.headers.get("content-length")) || undefined;
        const out = createWriteStream(part);
        let received = 0;
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            timer.kick();
            received += chunk.length;
            if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
            opts.onProgress?.(received, total);
          }
        } finally {
          await new Promise<void>((resolve, reject) =>
            out.end((err?: Error | null) => (err ? reject(err) : resolve())),
          );
        }
        if (total !== undefined && received !== total) {
          throw new Error(`connection closed after ${received} of ${total} bytes`);
        }
      } catch (err) {
        throw timer.ctl.signal.aborted ? timer.ctl.signal.reason : err;
      } finally {
        timer.stop();
      }
    });
    await rename(part, dest);
  } finally {
    await rm(part, { force: true });
  }
}
