// The AWS SDK for JavaScript v3 in a real browser (headless Chromium),
// from a page on another origin than cognate: the guest flow a web app
// runs, CORS preflights included. Needs /usr/bin/chromium (Debian's
// chromium package; .ci/run installs it). Without it the test is skipped,
// unless COGNATE_TEST_REQUIRE_BROWSER=1, which makes that a failure.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import { CognitoIdentityClient, CreateIdentityPoolCommand, ListIdentitiesCommand, SetIdentityPoolRolesCommand } from "@aws-sdk/client-cognito-identity";
import { IAMClient } from "@aws-sdk/client-iam";
import { build } from "esbuild";
import { chromium } from "playwright-core";

import { ADMIN, Cognate, makeRole } from "./harness.js";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const required = process.env.COGNATE_TEST_REQUIRE_BROWSER === "1";
const available = existsSync(CHROMIUM);
if (!available && required) {
  throw new Error(`COGNATE_TEST_REQUIRE_BROWSER=1 but there is no browser at ${CHROMIUM}`);
}

let server;
let pageServer;
let browser;
let pageUrl;

before(async () => {
  if (!available) return;
  server = await Cognate.start();
  const bundle = await build({
    entryPoints: [join(dirname(fileURLToPath(import.meta.url)), "browser", "app.js")],
    bundle: true,
    platform: "browser",
    format: "iife",
    write: false,
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0].text;
  pageServer = createServer((req, res) => {
    if (req.url === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(script);
    } else {
      res.writeHead(200, { "content-type": "text/html" });
      res.end('<!doctype html><html><head><script src="/app.js"></script></head><body>app</body></html>');
    }
  });
  await new Promise((r) => pageServer.listen(0, "127.0.0.1", r));
  // Another origin than cognate's 127.0.0.1:<port>: a different host name.
  pageUrl = `http://localhost:${pageServer.address().port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((r) => (pageServer ? pageServer.close(r) : r()));
  await server?.stop();
});

test("a web app on another origin gets guest credentials and uses them", { skip: !available && "no browser" }, async () => {
  const admin = new CognitoIdentityClient(server.config(ADMIN));
  const iam = new IAMClient(server.config(ADMIN));
  const { IdentityPoolId } = await admin.send(
    new CreateIdentityPoolCommand({ IdentityPoolName: "browser", AllowUnauthenticatedIdentities: true }),
  );
  const guestRole = await makeRole(iam, "Browser", IdentityPoolId, "unauthenticated");
  await admin.send(
    new SetIdentityPoolRolesCommand({ IdentityPoolId, Roles: { unauthenticated: guestRole.arn } }),
  );

  const page = await browser.newPage();
  const failures = [];
  page.on("console", (m) => m.type() === "error" && failures.push(m.text()));
  page.on("requestfailed", (r) => failures.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  await page.goto(pageUrl);
  const first = await page.evaluate(
    ([endpoint, pool]) => window.runGuestFlow(endpoint, pool),
    [server.endpoint, IdentityPoolId],
  );
  assert.deepEqual(failures, []);
  assert.match(first.identityId, /^us-east-1:[0-9a-f-]{36}$/);
  assert.equal(
    first.arn,
    `arn:aws:sts::000000000000:assumed-role/${guestRole.name}/CognitoIdentityCredentials`,
  );
  assert.match(first.accessKeyId, /^ASIA/);

  // A reload: the provider finds the identity id it kept in the browser
  // (IndexedDB) and asks for new credentials for the same identity.
  await page.reload();
  const second = await page.evaluate(
    ([endpoint, pool]) => window.runGuestFlow(endpoint, pool),
    [server.endpoint, IdentityPoolId],
  );
  assert.equal(second.identityId, first.identityId);
  const listed = await admin.send(new ListIdentitiesCommand({ IdentityPoolId, MaxResults: 10 }));
  assert.deepEqual(
    listed.Identities.map((i) => i.IdentityId),
    [first.identityId],
  );
  await page.close();
});
