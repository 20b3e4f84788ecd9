/**
 * The 3.10 facts docs/domain.md states about kmem accounting ("Who switches kmem accounting on"),
 * asked of the CentOS/RHEL 7.9 kernel itself in one boot: what switches it on, what is inherited and
 * how, when the switch is refused, and whose counters hold the charge.
 */
import { describe, expect, test } from "vitest";
import { K79, runVm, said, unavailable, type VmRun } from "./helpers/vm.js";

const WHY = unavailable();
const UNLIMITED = "9223372036854771712";

if (WHY) {
  test.skip(`real EL7 kernel tier skipped: ${WHY}`, () => {});
} else {
  describe("kmem accounting on the 3.10.0-1160 kernel", () => {
    let run: VmRun;
    let s: Record<string, string>;
    const err = (f: string) => `$(cat ${f} 2>&1 >/dev/null | sed 's/.*: //')`;
    test("one boot asks every question", async () => {
      run = await runVm({
        kernel: K79,
        script: `
w() { echo "$2" 2>/tmp/err >"$M/$1/memory.kmem.limit_in_bytes" && echo ok || sed 's/.*: //' /tmp/err; }
mkdir $M/fresh
say fresh $(state fresh) $(cat $M/fresh/memory.kmem.usage_in_bytes) $(cat $M/fresh/memory.kmem.limit_in_bytes)
say fresh-slabinfo ${err("$M/fresh/memory.kmem.slabinfo")}
say root-slabinfo ${err("$M/memory.kmem.slabinfo")}
mkdir $M/minus1 && say minus1-write $(w minus1 -1) && say minus1 $(state minus1)
mkdir $M/runc && arm runc && say runc $(state runc) $(cat $M/runc/memory.kmem.limit_in_bytes)
mkdir $M/finite && say finite-write $(w finite 104857600) && say finite $(state finite) $(cat $M/finite/memory.kmem.limit_in_bytes)
mkdir $M/finite/child && say child $(state finite/child) $(cat $M/finite/child/memory.kmem.limit_in_bytes)
mkdir $M/finite/child/grandchild && say grandchild $(state finite/child/grandchild)
say back-minus1 $(w runc -1) $(state runc)
say back-zero $(w runc 0) $(state runc)
mkdir $M/busy && load busy 10 && say tasks-write $(w busy 1) && say tasks $(state busy)
mkdir $M/parent $M/parent/kid && say children-write $(w parent 1) && say children $(state parent)
say root-write $(w . 1) && say root-minus1 $(w . -1)
# a parent that is off, a child switched on with load in it
mkdir $M/off && mkdir $M/off/on && arm off/on && load off/on 500
say counters $(state off) $(cat $M/off/memory.kmem.usage_in_bytes) $(state off/on) $(cat $M/off/on/memory.kmem.usage_in_bytes)
say usage $(cat $M/off/on/memory.usage_in_bytes) $(awk '$1 == "rss" || $1 == "cache" { s += $2 } END { print s }' $M/off/on/memory.stat)
say slabinfo-head $(head -n 1 $M/off/on/memory.kmem.slabinfo)
say slab-caches $(awk 'NR > 2 { print $1 }' $M/off/on/memory.kmem.slabinfo | sort | tr '\\n' ' ')
`,
      });
      expect(run.rc, run.console).toBe(0);
      s = said(run);
    });

    test("a new cgroup: off (slabinfo EIO, as the root's), kmem 0, limit unlimited", () => {
      expect(s.fresh).toBe(`off 0 ${UNLIMITED}`);
      expect(s["fresh-slabinfo"]).toBe("Input/output error");
      expect(s["root-slabinfo"]).toBe("Input/output error");
    });

    test("writing -1 alone is accepted and switches nothing on; runc's 1 then -1 does, leaving the limit unlimited", () => {
      expect([s["minus1-write"], s.minus1]).toEqual(["ok", "off"]);
      expect(s.runc).toBe(`on ${UNLIMITED}`);
      expect([s["finite-write"], s.finite]).toEqual(["ok", "on 104857600"]);
    });

    test("with use_hierarchy=1 a child of an on cgroup is on, and its children; the limit value is not copied", () => {
      expect(s.child).toBe(`on ${UNLIMITED}`);
      expect(s.grandchild).toBe("on");
    });

    test("no way back: -1 and 0 are accepted and accounting stays on", () => {
      expect(s["back-minus1"]).toBe("ok on");
      expect(s["back-zero"]).toBe("ok on");
    });

    test("switching on fails with EBUSY once the cgroup has tasks or children; the root refuses every write (EINVAL)", () => {
      expect([s["tasks-write"], s.tasks]).toEqual(["Device or resource busy", "off"]);
      expect([s["children-write"], s.children]).toEqual(["Device or resource busy", "off"]);
      expect(s["root-write"]).toBe("Invalid argument");
      expect(s["root-minus1"]).toBe("Invalid argument");
    });

    test("a parent's kmem counters include its children's, also while the parent's own accounting is off", () => {
      const [offState, offKmem, onState, onKmem] = s.counters!.split(" ");
      expect([offState, onState]).toEqual(["off", "on"]);
      expect(Number(onKmem)).toBeGreaterThan(0);
      expect(Number(offKmem)).toBeGreaterThanOrEqual(Number(onKmem));
      // usage counts kmem, rss + cache do not
      const [usage, rssCache] = s.usage!.split(" ").map(Number);
      expect(usage! - rssCache!).toBeGreaterThanOrEqual(Number(onKmem) * 0.9);
      expect(s["slabinfo-head"]).toBe("slabinfo - version: 2.1");
      expect(s["slab-caches"]).toMatch(/shmem_inode_cache/);
    });
  });

  test("with memory.use_hierarchy=0 a child of an on cgroup is off", async () => {
    const r = await runVm({
      kernel: K79,
      script: `
echo 0 >$M/memory.use_hierarchy
mkdir $M/p && arm p && mkdir $M/p/c
say flat $(cat $M/p/memory.use_hierarchy) $(state p) $(state p/c)
rmdir $M/p/c $M/p
echo 1 >$M/memory.use_hierarchy
mkdir $M/p && arm p && mkdir $M/p/c
say hierarchy $(cat $M/p/memory.use_hierarchy) $(state p) $(state p/c)
`,
    });
    expect(r.rc, r.console).toBe(0);
    const s = said(r);
    expect(s.flat).toBe("0 on off");
    expect(s.hierarchy).toBe("1 on on");
  });
}
