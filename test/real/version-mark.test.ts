/**
 * The version mark (`v1.20.2+nokmem`, semver build metadata) as the genuine Kubernetes 1.20.2 tree
 * parses kubelet versions: k8s.io/apimachinery/pkg/util/version (ParseSemantic, which kubeadm's
 * upgrade skew check detectTooOldKubelets applies to every Node's status.nodeInfo.kubeletVersion,
 * and ParseGeneric), compiled from the Debian tarball in the Go 1.15 builder image, offline; and
 * kubeadm's preflight pattern for `kubelet --version`, read from the same tree. The mark keeps
 * upstream's precedence: equal to v1.20.2, below v1.20.3. The cluster itself (registration,
 * kubectl) is test/real/cluster.test.ts.
 */
import { afterAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REAL_IMAGE, realSource } from "./shared.js";

const MARKED = "v1.20.2+nokmem";
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("the version mark in the 1.20.2 tree's version parsers", () => {
  it("ParseSemantic, ParseGeneric and kubeadm's kubelet --version pattern accept v1.20.2+nokmem with upstream precedence", async () => {
    // k8s.io/apimachinery/pkg/util/version from the genuine tarball, compiled in the builder image;
    // kubeadm's pattern for `kubelet --version` (preflight) read from the tree too
    const go = await mkdtemp(join(tmpdir(), "kmem-version-parse-"));
    dirs.push(go);
    await mkdir(join(go, "version"), { recursive: true });
    const src = await realSource();
    const member = (f: string) => `kubernetes-1.20.2/${f}`;
    const versionGo = (
      await execa(
        "tar",
        ["-xzOf", src.tarball, member("staging/src/k8s.io/apimachinery/pkg/util/version/version.go")],
        {
          maxBuffer: 1 << 20,
        },
      )
    ).stdout;
    const preflight = (
      await execa("tar", ["-xzOf", src.tarball, member("cmd/kubeadm/app/preflight/utils.go")], {
        maxBuffer: 1 << 20,
      })
    ).stdout;
    const kubeadmRe = /kubeletVersionRegex := regexp\.MustCompile\(`([^`]+)`\)/.exec(preflight)![1]!;
    await writeFile(join(go, "version", "version.go"), versionGo);
    await writeFile(join(go, "go.mod"), "module example\n\ngo 1.15\n");
    await writeFile(
      join(go, "main.go"),
      `package main

import (
	"fmt"
	"os"
	"regexp"

	"example/version"
)

func main() {
	s, re, out := os.Args[1], os.Args[2], os.Args[3]
	sv, err := version.ParseSemantic(s)
	if err != nil {
		fmt.Println("ParseSemantic error:", err)
		os.Exit(1)
	}
	gv, err := version.ParseGeneric(s)
	if err != nil {
		fmt.Println("ParseGeneric error:", err)
		os.Exit(1)
	}
	cmp, _ := sv.Compare("v1.20.2")
	newer, _ := sv.Compare("v1.20.3")
	fmt.Printf("semantic %d.%d.%d build=%s vs-v1.20.2=%d vs-v1.20.3=%d\\n", sv.Major(), sv.Minor(), sv.Patch(), sv.BuildMetadata(), cmp, newer)
	fmt.Printf("generic %s\\n", gv.String())
	m := regexp.MustCompile(re).FindAllStringSubmatch(out, -1)
	if len(m) != 1 {
		fmt.Println("kubeadm pattern: no match")
		os.Exit(1)
	}
	kv, err := version.ParseSemantic(m[0][1])
	fmt.Printf("kubeadm %s %v\\n", kv, err)
}
`,
    );
    const parsed = await execa(
      "podman",
      [
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        `${go}:/src`,
        "-w",
        "/src",
        "-e",
        "HOME=/tmp",
        "-e",
        "GOPROXY=off",
        "-e",
        "GOFLAGS=-mod=mod",
        "-e",
        "GOCACHE=/tmp/gocache",
        REAL_IMAGE,
        "go",
        "run",
        ".",
        MARKED,
        kubeadmRe,
        `Kubernetes ${MARKED}\n`,
      ],
      { reject: false, timeout: 300_000 },
    );
    process.stderr.write(
      `apimachinery util/version of the 1.20.2 tree on "${MARKED}":\n${parsed.stdout}\n${parsed.stderr}\n`,
    );
    expect(parsed.exitCode, parsed.stderr).toBe(0);
    expect(parsed.stdout).toContain("semantic 1.20.2 build=nokmem vs-v1.20.2=0 vs-v1.20.3=-1");
    expect(parsed.stdout).toContain(`generic 1.20.2`);
    expect(parsed.stdout).toContain(`kubeadm ${MARKED.slice(1)} <nil>`);
  });
});
