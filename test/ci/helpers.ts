/** A local stand-in for dl.k8s.io's release markers, and a runner for the built CLI. */
import { createServer, type AddressInfo } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { execa } from "execa";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = join(ROOT, "lib/cli.js");

/** Latest patch per minor as dl.k8s.io published them (1.19's marker answers 500 before each 200). */
// prettier-ignore
export const LATEST: Record<string, string> = {
  "1.10": "1.10.13", "1.11": "1.11.10", "1.12": "1.12.10", "1.13": "1.13.12", "1.14": "1.14.10",
  "1.15": "1.15.12", "1.16": "1.16.15", "1.17": "1.17.17", "1.18": "1.18.20", "1.19": "1.19.16",
  "1.20": "1.20.15", "1.21": "1.21.14", "1.22": "1.22.17", "1.23": "1.23.17", "1.24": "1.24.17",
  "1.25": "1.25.16", "1.26": "1.26.15", "1.27": "1.27.16", "1.28": "1.28.15", "1.29": "1.29.15",
  "1.30": "1.30.14",
};
export const FLAKY_MINOR = "1.19";

export interface MarkerServer {
  url: string;
  /** Requests per path since the last reset. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Routes: `/release/stable-<minor>.txt` (404 for minors not in LATEST), `/broken/release/…` (a marker
 * naming the wrong minor), `/down/release/…` (always 503).
 */
export async function startMarkerServer(): Promise<MarkerServer> {
  const hits = new Map<string, number>();
  const flakyCount = { n: 0 };
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const m = /^(\/broken|\/down)?\/release\/stable-(\d+\.\d+)\.txt$/.exec(path);
    const send = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(body);
    };
    if (!m) return send(404, "not found\n");
    const [, site, minor] = m;
    if (site === "/down") return send(503, "unavailable\n");
    if (site === "/broken") return send(200, "v1.0.0\n");
    const version = LATEST[minor!];
    if (!version) return send(404, "not found\n");
    if (minor === FLAKY_MINOR && flakyCount.n++ % 2 === 0) return send(500, "try again\n");
    send(200, `v${version}\n`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function cli(args: string[], env: Record<string, string> = {}) {
  const r = await execa("node", [CLI, ...args], { cwd: ROOT, env, reject: false, timeout: 120_000 });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}
