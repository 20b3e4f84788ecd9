/**
 * The DaemonSet's loop (templates/manifests/verify-loop.sh) asking the API server for its own Node:
 * one run (KMEM_ONCE=1) with the real curl against a stand-in API server over HTTPS on 127.0.0.1
 * (test/helpers/https-server.ts), a service account directory as the kubelet mounts it (token,
 * ca.crt), and a stand-in for verify-kmem.sh that records the arguments it is given. What the script
 * then makes of --running-version is in fix-states.test.ts; the real API server in
 * test/real/cluster.test.ts.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { REPO } from "./helpers/run-script.js";
import { makePki, serveHttps, type HttpsServer, type Pki } from "../helpers/https-server.js";

const LOOP = join(REPO, "templates", "manifests", "verify-loop.sh");
const TMP = mkdtempSync(join(tmpdir(), "verify-loop-"));
const TOKEN = "kmem-loop-token-81c2";
const NODE = "node-a.example";
const HAVE_CURL = spawnSync("sh", ["-c", "command -v curl"]).status === 0;
/** the node JSON the stand-in answers with (the test sets it), or a status code */
let answer: string | number = "";
const requests: { path: string; auth: string | undefined; accept: string | undefined }[] = [];
let server: HttpsServer;
let pki: Pki;
let otherCa: Pki;
let n = 0;

/** A Node as kube-apiserver 1.20 prints it (compact JSON), with this kubeletVersion. */
function nodeJson(kubeletVersion: string, labels: Record<string, string> = {}): string {
  return JSON.stringify({
    kind: "Node",
    apiVersion: "v1",
    metadata: { name: NODE, labels: { "kubernetes.io/hostname": NODE, ...labels } },
    status: {
      nodeInfo: {
        kernelVersion: "3.10.0-1160.el7.x86_64",
        containerRuntimeVersion: "docker://19.3.15",
        kubeletVersion,
        kubeProxyVersion: kubeletVersion,
      },
    },
  });
}

/** A directory of the tools the loop uses, found on PATH, without curl unless asked for. */
function toolDir(name: string, withCurl: boolean): string {
  const dir = join(TMP, name);
  mkdirSync(dir, { recursive: true });
  const tools = ["sh", "mkdir", "ln", "chmod", "cat", "grep", "sed", "head", "sleep", "rm"];
  for (const t of withCurl ? [...tools, "curl"] : tools) {
    const p = spawnSync("sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).stdout.trim();
    if (!p.startsWith("/")) throw new Error(`no ${t} on PATH`);
    symlinkSync(p, join(dir, t));
  }
  return dir;
}

beforeAll(async () => {
  pki = makePki(join(TMP, "pki"));
  otherCa = makePki(join(TMP, "other-ca"), "someone-else");
  server = await serveHttps(pki, (req, res) => {
    requests.push({ path: req.url ?? "", auth: req.headers.authorization, accept: req.headers.accept });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401).end("Unauthorized");
    if (req.url !== `/api/v1/nodes/${NODE}`) return res.writeHead(404).end("not found");
    if (typeof answer === "number") return res.writeHead(answer).end(`status ${answer}`);
    res.writeHead(200, { "content-type": "application/json" }).end(answer);
  });
  toolDir("bin", true);
  toolDir("bin-no-curl", false);
  // the host files the loop links under its --proc-root
  for (const d of ["hostproc/1", "hostproc/sys/kernel"]) mkdirSync(join(TMP, d), { recursive: true });
  writeFileSync(join(TMP, "hostproc", "cgroups"), "");
  writeFileSync(join(TMP, "hostproc", "cmdline"), "");
  writeFileSync(join(TMP, "hostproc", "sys", "kernel", "osrelease"), "3.10.0-1160.el7.x86_64\n");
  // the stand-in for verify-kmem.sh: its arguments, one a line, and the exit code it is told
  writeFileSync(
    join(TMP, "record.sh"),
    `printf '%s\\n' "$@" > "$KMEM_TEST_RECORD"\nexit "\${KMEM_TEST_EXIT:-0}"\n`,
  );
});
afterAll(async () => {
  await server?.close();
  rmSync(TMP, { recursive: true, force: true });
});

/** One run of the loop as the DaemonSet's container runs it; returns its output and the arguments the script got. */
async function loopOnce(o: { ca?: string; curl?: boolean; token?: boolean; exit?: number } = {}) {
  const run = join(TMP, `run-${++n}`);
  const sa = join(run, "sa");
  mkdirSync(sa, { recursive: true });
  if (o.token !== false) writeFileSync(join(sa, "token"), TOKEN);
  writeFileSync(join(sa, "ca.crt"), readFileSync(o.ca ?? pki.ca));
  const record = join(run, "args");
  const r = await execa("sh", [LOOP, "--kubelet", "/host/usr/bin/kubelet"], {
    reject: false,
    timeout: 60_000,
    env: {
      PATH: join(TMP, o.curl === false ? "bin-no-curl" : "bin"),
      KMEM_ONCE: "1",
      KMEM_INTERVAL: "300",
      KMEM_TEXTFILE: join(run, "kmem-build.prom"),
      KMEM_NODE_NAME: NODE,
      KMEM_SCRIPT: join(TMP, "record.sh"),
      KMEM_HOST_PROC: join(TMP, "hostproc"),
      KMEM_SERVICE_ACCOUNT: sa,
      KMEM_TEST_RECORD: record,
      KMEM_TEST_EXIT: String(o.exit ?? 0),
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: String(server.port),
      TMPDIR: run,
    },
    extendEnv: false,
  });
  const args = existsSync(record) ? readFileSync(record, "utf8").split("\n").slice(0, -1) : null;
  const running =
    args && args.includes("--running-version") ? args[args.indexOf("--running-version") + 1] : null;
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), args, running, run };
}

describe.skipIf(!HAVE_CURL)("the DaemonSet's loop asks the API server for its node's running kubelet", () => {
  test("passes the kubeletVersion of its own Node, asked with the service account's token, certificate checked", async () => {
    answer = nodeJson("v1.20.2+nokmem");
    requests.length = 0;
    const r = await loopOnce({ exit: 1 });
    expect(r.stderr).toBe("");
    expect(r.running).toBe("v1.20.2+nokmem");
    // the loop's own arguments, then the ones the DaemonSet gives it
    expect(r.args).toEqual([
      "--proc-root",
      join(r.run, "kmem-build-proc"),
      "--prometheus",
      join(r.run, "kmem-build.prom"),
      "--running-version",
      "v1.20.2+nokmem",
      "--kubelet",
      "/host/usr/bin/kubelet",
    ]);
    expect(requests).toEqual([
      { path: `/api/v1/nodes/${NODE}`, auth: `Bearer ${TOKEN}`, accept: "application/json" },
    ]);
    // KMEM_ONCE: the script's exit code is the loop's
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^kmem-build-verify: verify-kmem\.sh exited 1 /m);
    // the token is written for curl in a directory only root may read, never on a command line
    expect(
      spawnSync("stat", ["-c", "%a", join(r.run, "kmem-build-api")], { encoding: "utf8" }).stdout.trim(),
    ).toBe("700");
    // a version without the mark (upstream's kubelet) is passed as well: the script compares it
    answer = nodeJson("v1.20.2");
    expect((await loopOnce()).running).toBe("v1.20.2");
  });

  test("an answer signed by another CA is refused: no --running-version, curl's reason printed, the check still runs", async () => {
    answer = nodeJson("v1.20.2+nokmem");
    requests.length = 0;
    const r = await loopOnce({ ca: otherCa.ca });
    expect(r.running).toBeNull();
    expect(r.args).toContain("--kubelet");
    expect(r.stderr).toMatch(
      new RegExp(
        `^kmem-build-verify: asking the API server for node ${NODE.replace(/\./g, "\\.")} failed: curl: \\(60\\) `,
        "m",
      ),
    );
    expect(requests).toEqual([]); // the TLS handshake failed: the token was never sent
    expect(r.code).toBe(0);
  });

  test("without curl in the image: the reason is printed and the check runs without the running version", async () => {
    answer = nodeJson("v1.20.2+nokmem");
    requests.length = 0;
    const r = await loopOnce({ curl: false });
    expect(r.running).toBeNull();
    expect(r.args).toContain("--prometheus");
    expect(r.stderr).toMatch(/^kmem-build-verify: no curl in this image .*use an image with curl/m);
    expect(requests).toEqual([]);
    expect(r.code).toBe(0);
  });

  test("without a service account token (--no-node-api): says so, asks nothing", async () => {
    requests.length = 0;
    const r = await loopOnce({ token: false });
    expect(r.running).toBeNull();
    expect(r.stderr).toMatch(/no service account token in .*--no-node-api/);
    expect(requests).toEqual([]);
  });

  test("the API server refuses (RBAC: 403): curl's reason printed, nothing passed", async () => {
    answer = 403;
    const r = await loopOnce();
    expect(r.running).toBeNull();
    expect(r.stderr).toMatch(/asking the API server for node \S+ failed: curl: \(22\) .*403/);
    expect(r.args).not.toBeNull();
  });

  test("two kubeletVersion fields (a label of that name) or a version that is not one: nothing is passed", async () => {
    // anyone allowed to label nodes could add a second field: the loop takes neither
    answer = nodeJson("v1.20.2+nokmem", { kubeletVersion: "v1.20.9-nokmem" });
    let r = await loopOnce();
    expect(r.running).toBeNull();
    expect(r.stderr).toMatch(/has no single status\.nodeInfo\.kubeletVersion/);
    for (const bad of [
      "1.20.2",
      "v1.20.2 --kubelet /tmp/x",
      "v1.20.2+nokmem;id",
      "v1.20",
      `v1.20.2+${"x".repeat(60)}`,
      "",
    ]) {
      answer = nodeJson(bad);
      r = await loopOnce();
      expect(r.running, bad).toBeNull();
      expect(r.args, bad).not.toBeNull();
      expect(r.args!.join(" "), bad).not.toContain("/tmp/x");
      expect(r.stderr, bad).toMatch(
        /kubeletVersion '.*' (is not a version|is longer than 64)|no single status\.nodeInfo\.kubeletVersion/,
      );
    }
    answer = "not json at all";
    r = await loopOnce();
    expect(r.running).toBeNull();
    expect(r.stderr).toMatch(/no single status\.nodeInfo\.kubeletVersion/);
  });
});
