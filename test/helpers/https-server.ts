/**
 * A stand-in API server: a real HTTPS server on 127.0.0.1 with a CA and a serving certificate made
 * with openssl (clients check it as they check kube-apiserver's), answering with a handler of the
 * test's own.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface Pki {
  dir: string;
  /** the CA's certificate (PEM file) */
  ca: string;
  /** the serving certificate for IP 127.0.0.1 and its key, signed by the CA */
  cert: string;
  key: string;
}

/** A CA and a serving certificate for 127.0.0.1 signed by it, in `dir` (ca.crt, server.crt, server.key). */
export function makePki(dir: string, caName = "kmem-test-ca"): Pki {
  mkdirSync(dir, { recursive: true });
  const pki = (...args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  };
  pki(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    `/CN=${caName}`,
  );
  pki(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=kube-apiserver",
  );
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\n");
  pki(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  );
  return { dir, ca: join(dir, "ca.crt"), cert: join(dir, "server.crt"), key: join(dir, "server.key") };
}

export interface HttpsServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Serves `handler` over HTTPS on a free port of 127.0.0.1 with the PKI's serving certificate. */
export async function serveHttps(
  pki: Pki,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<HttpsServer> {
  const server = createServer({ key: readFileSync(pki.key), cert: readFileSync(pki.cert) }, handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `https://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
