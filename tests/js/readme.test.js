// The README's Node example ("Testing your app against cognate") runs as
// written: its block is saved beside this suite (so it finds the pinned
// AWS SDK), with the Quick start's bootstrap file in the working
// directory and the built binary on PATH as `cognate`.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";

import { ROOT } from "./harness.js";

const BIN = process.env.COGNATE_BIN ?? join(ROOT, "target", "debug", "cognate");

function section(title) {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = text.indexOf(`\n## ${title}\n`);
  assert.notEqual(start, -1, `no section ${title}`);
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end === -1 ? undefined : end);
}

function blocks(text, language) {
  return [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)]
    .filter((m) => m[1] === language)
    .map((m) => m[2]);
}

test("the README's node:test example runs as written", { timeout: 60_000 }, () => {
  const example = blocks(section("Testing your app against cognate"), "js").find((b) =>
    b.includes('from "node:test"'),
  );
  assert.ok(example, "no node:test example in the README");
  const bootstrap = blocks(section("Quick start"), "json")[0];
  const work = mkdtempSync(join(tmpdir(), "cognate-readme-js-"));
  const file = join(ROOT, "tests", "js", `.readme-example-${process.pid}.test.mjs`);
  try {
    writeFileSync(join(work, "quickstart.json"), bootstrap);
    writeFileSync(file, example);
    const env = { ...process.env, PATH: `${dirname(BIN)}:${process.env.PATH}` };
    for (const name of Object.keys(env)) {
      if (name.startsWith("COGNATE_") || name.startsWith("AWS_") || name.startsWith("NODE_TEST")) {
        delete env[name];
      }
    }
    // `cognate` must be the built binary, whatever its file is called.
    assert.equal(BIN.endsWith("/cognate"), true, BIN);
    const run = spawnSync(process.execPath, ["--test", file], { cwd: work, env, encoding: "utf8" });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /# pass 1/);
  } finally {
    rmSync(file, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
});
