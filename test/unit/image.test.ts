/**
 * Which builder image a tree gets. The Dockerfile lines are written by us in the form the
 * Kubernetes trees use (1.13: k8s.gcr.io/kube-cross, 1.20: k8s.gcr.io/build-image/kube-cross);
 * the real 1.20.2 tree is checked in test/real/release.test.ts.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { chooseImage, imageFilesOf } from "../../src/pipeline/steps/builder-image.js";
import { loadRecipes } from "../../src/recipes/load.js";
import { recipeFor } from "../../src/recipes/resolve.js";
import type { Recipe } from "../../src/recipes/types.js";

let recipes: Recipe[];
beforeAll(async () => {
  recipes = await loadRecipes();
});

const DOCKERFILE = "build/build-image/Dockerfile";
const CROSS = "build/build-image/cross/VERSION";
const tree = (from: string | null, tag: string | null): Record<string, string> => ({
  ...(from === null ? {} : { [DOCKERFILE]: `# comment\n${from}\n\nRUN mkdir -p /go/src/k8s.io\n` }),
  ...(tag === null ? {} : { [CROSS]: `${tag}\n` }),
});

describe("builder image", () => {
  it("reads the Dockerfile and cross VERSION without extracting the tree", () => {
    const r = recipeFor("1.20.2", recipes);
    expect(imageFilesOf(r)).toEqual(expect.arrayContaining([DOCKERFILE, CROSS]));
  });

  it.each([
    [
      "1.20.2",
      "FROM k8s.gcr.io/build-image/kube-cross:KUBE_BUILD_IMAGE_CROSS_TAG",
      "v1.15.5-1",
      "registry.k8s.io/build-image/kube-cross:v1.15.5-1",
      "1.15.5",
    ],
    [
      "1.13.12",
      "FROM k8s.gcr.io/kube-cross:KUBE_BUILD_IMAGE_CROSS_TAG",
      "v1.11.13-1",
      "registry.k8s.io/kube-cross:v1.11.13-1",
      "1.11.13",
    ],
    [
      "1.10.13",
      "FROM gcr.io/google_containers/kube-cross:KUBE_BUILD_IMAGE_CROSS_TAG",
      "v1.9.3-2",
      "registry.k8s.io/kube-cross:v1.9.3-2",
      "1.9.3",
    ],
  ])("Kubernetes %s: the tree's own kube-cross, on today's registry", (version, from, tag, ref, go) => {
    const img = chooseImage(recipeFor(version, recipes), version, tree(from, tag));
    expect(img).toEqual({ reference: ref, from: `tree:${DOCKERFILE}`, goVersion: go });
  });

  it("--image wins over the tree", () => {
    const img = chooseImage(
      recipeFor("1.20.2", recipes),
      "1.20.2",
      tree("FROM k8s.gcr.io/build-image/kube-cross:KUBE_BUILD_IMAGE_CROSS_TAG", "v1.15.5-1"),
      "localhost/kmem-build-go:1.15",
    );
    expect(img.reference).toBe("localhost/kmem-build-go:1.15");
    expect(img.from).toBe("--image");
  });

  it.each([
    ["no Dockerfile", tree(null, "v1.15.5-1"), "1.15.5"],
    ["a FROM line without the tag placeholder", tree("FROM golang:1.15", "v1.15.5-1"), "1.15.5"],
    [
      "no cross VERSION",
      tree("FROM k8s.gcr.io/build-image/kube-cross:KUBE_BUILD_IMAGE_CROSS_TAG", null),
      "1.15.15",
    ],
  ])("%s: golang:<go>, Go from the tree or else the recipe table", (_what, files, go) => {
    const img = chooseImage(recipeFor("1.20.2", recipes), "1.20.2", files);
    expect(img.reference).toBe(`docker.io/library/golang:${go}`);
  });

  it("a cross VERSION that is not a tag is not put into an image reference", () => {
    const files = tree(
      "FROM k8s.gcr.io/build-image/kube-cross:KUBE_BUILD_IMAGE_CROSS_TAG",
      "v1.15 ; rm -rf /",
    );
    expect(chooseImage(recipeFor("1.20.2", recipes), "1.20.2", files).reference).not.toContain("kube-cross");
  });
});
