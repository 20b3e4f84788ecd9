/**
 * Container image references as the runtimes parse them (the distribution "reference" grammar):
 * [host[:port]/]path[:tag][@sha256:<64 hex>]. A digest pins the image: what runs on every node is
 * then exactly the image that was checked.
 */
import { UsageError } from "../errors.js";

const DOMAIN_PART = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?`;
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const NAME = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export interface ImageRef {
  name: string;
  tag?: string;
  digest?: string;
}

export function parseImageRef(ref: string): ImageRef {
  const bad = (why: string) =>
    new UsageError(
      `--image "${ref}" is not an image reference: ${why}`,
      "pass [registry[:port]/]name[:tag][@sha256:<64 hex digits>], e.g. registry.example.com/tools/busybox:1.36@sha256:…",
    );
  const at = ref.indexOf("@");
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const rest = at >= 0 ? ref.slice(0, at) : ref;
  if (digest !== undefined && !DIGEST.test(digest))
    throw bad(`the digest must be sha256: and 64 lower-case hex digits, not "${digest}"`);
  // a tag follows the last ':' after the last '/' (a ':' before it is the registry's port)
  const colon = rest.lastIndexOf(":");
  const hasTag = colon > rest.lastIndexOf("/");
  const name = hasTag ? rest.slice(0, colon) : rest;
  const tag = hasTag ? rest.slice(colon + 1) : undefined;
  if (tag !== undefined && !TAG.test(tag)) throw bad(`bad tag "${tag}"`);
  if (name.length > 255 || !NAME.test(name)) throw bad(`bad name "${name}"`);
  return { name, tag, digest };
}
