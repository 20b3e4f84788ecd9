/**
 * A real HTTP server on 127.0.0.1 serving a directory with the dl.k8s.io path layout.
 * `faults` makes chosen paths misbehave, to exercise retries and error handling.
 */
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import { join, normalize } from "node:path";
import type { AddressInfo } from "node:net";

export type Fault =
  | { kind: "status"; status: number; times?: number } // answer status `times` times, then serve normally
  | { kind: "reset"; afterBytes: number; times?: number } // send part of the body then destroy the socket
  | { kind: "stall"; times?: number } // send headers, then nothing
  | { kind: "redirect"; to: string; times?: number };

export interface TestServer {
  url: string;
  hits: Map<string, number>;
  faults: Map<string, Fault>;
  close(): Promise<void>;
}

export async function serveDirectory(root: string): Promise<TestServer> {
  const hits = new Map<string, number>();
  const faults = new Map<string, Fault>();
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    const fault = faults.get(path);
    const active = fault && (fault.times === undefined || n <= fault.times);
    let body: Buffer;
    try {
      body = await readFile(join(root, normalize(path).replace(/^(\.\.[/\\])+/, "")));
    } catch {
      body = Buffer.alloc(0);
      if (!active) {
        res.writeHead(404).end("not found");
        return;
      }
    }
    if (active && fault.kind === "status")
      return void res.writeHead(fault.status).end(`status ${fault.status}`);
    if (active && fault.kind === "redirect") return void res.writeHead(302, { location: fault.to }).end();
    if (active && fault.kind === "stall") {
      res.writeHead(200, { "content-length": String(body.length) });
      res.flushHeaders();
      return; // never send the body; the client must time out
    }
    if (active && fault.kind === "reset") {
      res.writeHead(200, { "content-length": String(body.length) });
      res.write(body.subarray(0, fault.afterBytes), () => res.destroy());
      return;
    }
    res.writeHead(200, { "content-length": String(body.length) }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    faults,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
