// The README's Node examples run against the built package, so they cannot rot: each ```js block
// marked <!-- readme-test: node --> runs as a module importing "outpost-sqlite", and when a block
// marked <!-- readme-test: output --> follows it, the example must print exactly that.
import { it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { linkPackage, pkgDir } from "./helpers/package.mjs";

const tmp = fileURLToPath(new URL("./.tmp/readme/", import.meta.url));

function markedBlocks(markdown) {
  const blocks = [];
  const pattern = /<!-- readme-test: (node|output) -->\s*\n```(\w*)\n([\s\S]*?)\n```/g;
  for (const [, kind, , code] of markdown.matchAll(pattern)) {
    if (kind === "node") blocks.push({ code, output: null });
    else blocks.at(-1).output = code;
  }
  return blocks;
}

const readme = readFileSync(fileURLToPath(new URL("../../pkg-template/README.md", import.meta.url)), "utf8");
const examples = markedBlocks(readme);

it("the README has Node examples to run", () => {
  assert.ok(examples.length > 0);
  // The built package carries the same README.
  assert.equal(readFileSync(`${pkgDir}/README.md`, "utf8"), readme);
});

examples.forEach(({ code, output }, i) => {
  it(`README Node example ${i + 1} runs${output === null ? "" : " and prints what the README says"}`, () => {
    linkPackage();
    mkdirSync(tmp, { recursive: true });
    const file = `${tmp}example-${i + 1}.mjs`;
    writeFileSync(file, code + "\n");
    const printed = execFileSync(process.execPath, [file], { encoding: "utf8", timeout: 30_000 });
    if (output !== null) assert.equal(printed.trimEnd(), output.trimEnd());
  });
});
