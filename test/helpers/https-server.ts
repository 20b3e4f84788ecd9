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

/** A client certificate signed by the PKI's CA (kubectl's client-certificate), as files in its dir. */
export interface ClientCert {
  cert: string;
  key: string;
}

function openssl(dir: string, ...args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** NAME.crt and NAME.key for SUBJ with the extension EXT, signed by the CA in `dir`. */
function signed(dir: string, name: string, subj: string, ext: string): ClientCert {
  openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subj,
  );
  writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** A client certificate of the PKI's CA for SUBJ (e.g. /O=system:masters/CN=admin), as NAME.crt/.key. */
export function clientCert(pki: Pki, name: string, subj: string): ClientCert {
  return signed(pki.dir, name, subj, "extendedKeyUsage=clientAuth");
}

/** A CA and a serving certificate for 127.0.0.1 signed by it, in `dir` (ca.crt, server.crt, server.key). */
export function makePki(dir: string, caName = "kmem-test-ca"): Pki {
  mkdirSync(dir, { recursive: true });
  openssl(
    dir,
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
  signed(dir, "server", "/CN=kube-apiserver", "subjectAltName=IP:127.0.0.1");
  return { dir, ca: join(dir, "ca.crt"), cert: join(dir, "server.crt"), key: join(dir, "server.key") };
}

export interface HttpsServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `handler` over HTTPS on a free port of 127.0.0.1 with the PKI's serving certificate; with
 * `clientAuth`, only clients with a certificate of the PKI's CA are taken (as kube-apiserver's x509 auth).
 */
export async function serveHttps(
  pki: Pki,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  o: { clientAuth?: boolean } = {},
): Promise<HttpsServer> {
  const tls = { key: readFileSync(pki.key), cert: readFileSync(pki.cert) };
  const server = createServer(
    o.clientAuth ? { ...tls, ca: readFileSync(pki.ca), requestCert: true, rejectUnauthorized: true } : tls,
    handler,
  );
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
