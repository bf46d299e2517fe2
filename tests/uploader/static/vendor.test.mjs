// The vendored @noble/hashes files are byte for byte the npm package's that package.json pins.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

const root = new URL("../../../", import.meta.url);

test("the vendored noble-hashes modules equal the pinned npm package's", () => {
  for (const name of ["sha2.js", "_md.js", "_u64.js", "utils.js", "LICENSE"]) {
    const vendored = readFileSync(new URL(`uploader/static/vendor/noble-hashes/${name}`, root));
    const packaged = readFileSync(new URL(`node_modules/@noble/hashes/${name}`, root));
    assert.ok(vendored.equals(packaged), `${name} differs from node_modules/@noble/hashes`);
  }
});

test("the vendored sha256 hashes incrementally", async () => {
  const { sha256 } = await import(new URL("uploader/static/vendor/noble-hashes/sha2.js", root));
  const hasher = sha256.create();
  hasher.update(new TextEncoder().encode("ab"));
  hasher.update(new TextEncoder().encode("c"));
  const hex = Array.from(hasher.digest(), (b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});
