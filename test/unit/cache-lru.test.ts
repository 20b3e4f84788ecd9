import { describe, it, expect } from "vitest";
import { selectEvictions, parseSize, type Entry } from "../../src/cache/lru.js";
import { entryOf } from "../../src/cache/use.js";

const e = (path: string, size: number, lastUse: number, inUse = false): Entry => ({
  path,
  size,
  lastUse,
  inUse,
});

describe("least recently used eviction", () => {
  it("removes the oldest entries first, only until the rest fits", () => {
    const s = selectEvictions([e("go/a", 40, 3), e("go/b", 40, 1), e("binaries/c", 40, 2)], 80);
    expect(s.remove.map((x) => x.path)).toEqual(["go/b"]);
    expect(s.sizeBefore).toBe(120);
    expect(s.sizeAfter).toBe(80);
  });

  it("never removes an entry in use, and goes on to the next oldest instead", () => {
    const s = selectEvictions([e("go/old", 50, 1, true), e("go/mid", 30, 2), e("rpms/new", 30, 3)], 60);
    expect(s.remove.map((x) => x.path)).toEqual(["go/mid", "rpms/new"]);
    expect(s.sizeAfter).toBe(50);
  });

  it("leaves everything in use even when that is over the limit", () => {
    const s = selectEvictions([e("work/x", 100, 1, true)], 10);
    expect(s.remove).toEqual([]);
    expect(s.sizeAfter).toBe(100);
  });

  it("removes nothing when the cache fits; ties go by path", () => {
    expect(selectEvictions([e("go/a", 5, 1)], 5).remove).toEqual([]);
    const s = selectEvictions([e("go/b", 5, 1), e("go/a", 5, 1)], 5);
    expect(s.remove.map((x) => x.path)).toEqual(["go/a"]);
  });
});

describe("sizes and entries", () => {
  it("reads sizes with K/M/G/T units and refuses anything else as a usage error", () => {
    expect(parseSize("20G", "--max-size")).toBe(20 * 2 ** 30);
    expect(parseSize("512M", "--max-size")).toBe(512 * 2 ** 20);
    expect(parseSize("1.5K", "--max-size")).toBe(1536);
    expect(parseSize("1000", "--max-size")).toBe(1000);
    expect(() => parseSize("lots", "--max-size")).toThrow(/--max-size "lots" is not a size/);
    expect(() => parseSize("-1G", "--max-size")).toThrow(/is not a size/);
  });

  it("names the entry a path in the cache belongs to, and nothing outside the tool's subdirectories", () => {
    expect(entryOf("/c", "/c/go/verified")).toBe("go/verified");
    expect(entryOf("/c", "/c/binaries/abc/kubelet")).toBe("binaries/abc");
    expect(entryOf("/c", "/c/sources/v1.20.15/x.tar.gz")).toBe("sources/v1.20.15/x.tar.gz");
    expect(entryOf("/c", "/c/verdicts/hmac.key")).toBeNull();
    expect(entryOf("/c", "/elsewhere/go/x")).toBeNull();
    expect(entryOf("/c", "/c/go")).toBeNull();
  });
});
