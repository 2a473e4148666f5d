// The admin console in a real browser (headless Chromium): sign in with
// the admin key, create an identity pool with the keyboard alone, see an
// identity the JS SDK made, open it, rotate a signing key and see the
// JWKS change, sign out. Any browser console error or page error fails
// the test (a Content-Security-Policy violation is one), and so does a
// dialog (a script that ran). Screenshots go to tests/js/screenshots/.
// Needs /usr/bin/chromium, as browser.test.js.

import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import {
  CognitoIdentityClient,
  GetIdCommand,
  GetOpenIdTokenForDeveloperIdentityCommand,
} from "@aws-sdk/client-cognito-identity";
import { chromium } from "playwright-core";

import { ADMIN, Cognate } from "./harness.js";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const required = process.env.COGNATE_TEST_REQUIRE_BROWSER === "1";
const available = existsSync(CHROMIUM);
if (!available && required) {
  throw new Error(`COGNATE_TEST_REQUIRE_BROWSER=1 but there is no browser at ${CHROMIUM}`);
}
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), "screenshots");
const SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(2)>";

let server;
let browser;

before(async () => {
  if (!available) return;
  mkdirSync(SHOTS, { recursive: true });
  server = await Cognate.start();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Presses Tab until the focused element matches `want` (or fails). */
async function tabTo(page, want, what) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      return { tag: el.tagName, id: el.id, text: el.textContent.trim(), type: el.type ?? "" };
    });
    if (want(focused)) return focused;
  }
  assert.fail(`Tab never reached ${what}`);
}

/** Every visible form control has a label. */
async function assertLabelled(page) {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea")]
      .filter((el) => el.type !== "hidden")
      .filter((el) => el.labels.length === 0 && !el.getAttribute("aria-label"))
      .map((el) => el.outerHTML),
  );
  assert.deepEqual(unlabelled, []);
}

async function jwksKids() {
  const response = await fetch(`${server.endpoint}/.well-known/jwks_uri`);
  return (await response.json()).keys.map((k) => k.kid).sort();
}

test("the console's story: sign in, a pool by keyboard, an identity, a key rotation, sign out", { skip: !available && "no browser", timeout: 120_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("dialog", async (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    await dialog.dismiss();
  });
  const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  // Not signed in: sent to the sign-in page.
  await page.goto(`${server.endpoint}/console/`);
  assert.match(page.url(), /\/console\/sign-in\?next=/);
  await assertLabelled(page);
  await shot("01-sign-in");

  // A wrong secret is refused, in words.
  await page.fill("#access_key_id", ADMIN.accessKeyId);
  await page.fill("#secret_access_key", "wrong");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#sign-in-error");
  assert.match(await page.textContent("#sign-in-error"), /not the admin key/);
  // Chromium reports the page's 401 status as a console error: the one
  // error this story expects.
  assert.deepEqual(problems.splice(0), ["console error: Failed to load resource: the server responded with a status of 401 (Unauthorized)"]);

  // The admin key signs in; the session is a cookie scripts cannot read,
  // and nothing is kept in the browser's storage.
  await page.fill("#access_key_id", ADMIN.accessKeyId);
  await page.fill("#secret_access_key", ADMIN.secretAccessKey);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${server.endpoint}/console/`);
  const [cookie] = (await context.cookies()).filter((c) => c.name === "cognate_console");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.equal(cookie.path, "/console/");
  const stored = await page.evaluate(() => ({ cookie: document.cookie, local: localStorage.length, session: sessionStorage.length }));
  assert.deepEqual(stored, { cookie: "", local: 0, session: 0 });
  assert.ok(!(await page.content()).includes(ADMIN.secretAccessKey));

  // Create a pool with the keyboard alone.
  await tabTo(page, (f) => f.tag === "A" && f.text === "Create an identity pool", "the create link");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/console\/pools\/new$/);
  await assertLabelled(page);
  await tabTo(page, (f) => f.id === "name", "the name field");
  await page.keyboard.type("console_story");
  await tabTo(page, (f) => f.id === "allow_unauthenticated", "the guests checkbox");
  await page.keyboard.press("Space");
  await tabTo(page, (f) => f.id === "developer_provider_name", "the developer provider field");
  await page.keyboard.type("login.console.example");
  await tabTo(page, (f) => f.id === "tags", "the tags field");
  await page.keyboard.type("team=identity");
  await shot("02-create-pool");
  await tabTo(page, (f) => f.tag === "BUTTON" && f.text === "Create identity pool", "the create button");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/console\/pools\/[^/]+\?created=1$/);
  const poolId = (await page.textContent("#pool-id")).trim();
  assert.match(poolId, /^us-east-1:[0-9a-f-]{36}$/);
  assert.ok(await page.isChecked("#allow_unauthenticated"));
  await shot("03-pool");

  // A guest made by the JS SDK appears among the pool's identities.
  const cognito = new CognitoIdentityClient(server.config());
  const { IdentityId } = await cognito.send(new GetIdCommand({ IdentityPoolId: poolId }));
  // And a developer user whose identifier is markup stays text.
  const admin = new CognitoIdentityClient(server.config(ADMIN));
  const developer = await admin.send(
    new GetOpenIdTokenForDeveloperIdentityCommand({ IdentityPoolId: poolId, Logins: { "login.console.example": SCRIPT } }),
  );
  await page.click("a.button:text-is('Identities')");
  await page.waitForSelector("#identities");
  const listed = await page.$$eval("#identities tbody tr td:first-child", (cells) => cells.map((c) => c.textContent.trim()));
  assert.deepEqual(listed, [IdentityId, developer.IdentityId].sort());
  await shot("04-identities");
  await page.click(`a:has-text("${IdentityId}")`);
  await page.waitForSelector("#identity-kind");
  assert.equal(await page.textContent("#identity-kind"), "guest");
  await page.goto(`${server.endpoint}/console/identities/${developer.IdentityId}`);
  assert.equal(await page.textContent("#logins tbody td code"), SCRIPT);
  await shot("05-identity");

  // Rotate the signing key: the JWKS names the new key.
  const before = await jwksKids();
  await page.click("nav >> text=Signing keys");
  await page.waitForSelector("#keys");
  await page.click("text=Rotate: make a new signing key");
  await page.waitForURL(/\/console\/keys\?rotated=/);
  const rotated = decodeURIComponent(new URL(page.url()).searchParams.get("rotated"));
  const afterKids = await jwksKids();
  assert.ok(!before.includes(rotated) && afterKids.includes(rotated), `${rotated}: ${before} -> ${afterKids}`);
  await shot("06-keys");

  // Go back to the pools for the README's picture.
  await page.click("nav >> text=Identity pools");
  await page.waitForSelector("table");
  await shot("07-pools");

  // Sign out: back to signing in, and the console is closed again.
  await page.click("text=Sign out");
  await page.waitForURL(/\/console\/sign-in$/);
  await page.goto(`${server.endpoint}/console/keys`);
  assert.match(page.url(), /\/console\/sign-in\?next=/);

  await context.close();
  assert.deepEqual(problems, []);
});
