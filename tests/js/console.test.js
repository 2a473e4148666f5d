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
  CreateIdentityPoolCommand,
  GetIdCommand,
  GetIdentityPoolRolesCommand,
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

test("roles attached to a pool in the console, and the simulator explaining a deny", { skip: !available && "no browser", timeout: 120_000 }, async () => {
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
  const admin = new CognitoIdentityClient(server.config(ADMIN));
  const { IdentityPoolId: poolId } = await admin.send(
    new CreateIdentityPoolCommand({ IdentityPoolName: "roles_story", AllowUnauthenticatedIdentities: true }),
  );

  await page.goto(`${server.endpoint}/console/sign-in`);
  await page.fill("#access_key_id", ADMIN.accessKeyId);
  await page.fill("#secret_access_key", ADMIN.secretAccessKey);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${server.endpoint}/console/`);

  // Two roles made on the IAM page: one trusting this pool's guests, one
  // trusting any pool's identities (which the roles page warns about).
  const makeRole = async (name, trust) => {
    await page.goto(`${server.endpoint}/console/iam/roles`);
    await assertLabelled(page);
    await page.fill("#role-name", name);
    await page.fill("#role-trust", JSON.stringify(trust, null, 2));
    await page.click("button:text-is('Create the role')");
    await page.waitForURL(/\/console\/iam\/roles\/[^/?]+\?done=created$/);
    return (await page.textContent("#role-arn")).trim();
  };
  const federated = { Federated: "cognito-identity.amazonaws.com" };
  const guests = await makeRole("StoryGuests", {
    Version: "2012-10-17",
    Statement: [{
      Effect: "Allow", Principal: federated, Action: "sts:AssumeRoleWithWebIdentity",
      Condition: {
        StringEquals: { "cognito-identity.amazonaws.com:aud": poolId },
        "ForAnyValue:StringLike": { "cognito-identity.amazonaws.com:amr": "unauthenticated" },
      },
    }],
  });
  // A policy the parser refuses shows its words and is not put.
  await page.fill("#inline-name", "photos");
  await page.fill("#inline-document", '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}');
  await page.click("button:text-is('Add the inline policy')");
  await page.waitForSelector("[role=alert]");
  assert.match(await page.textContent("[role=alert]"), /MalformedPolicyDocument/);
  // Chromium reports the refusal's 400 status as a console error.
  assert.deepEqual(problems.splice(0), ["console error: Failed to load resource: the server responded with a status of 400 (Bad Request)"]);
  await page.fill("#inline-name", "photos");
  await page.fill("#inline-document", JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadPhotos", Effect: "Allow", Action: "s3:GetObject", Resource: "*" },
      { Sid: "NoSecrets", Effect: "Deny", Action: "s3:*", Resource: "arn:aws:s3:::secrets/*" },
    ],
  }, null, 2));
  await page.click("button:text-is('Add the inline policy')");
  await page.waitForURL(/\?done=saved$/);
  await shot("10-iam-role");
  const open = await makeRole("StoryOpen", {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: federated, Action: "sts:AssumeRoleWithWebIdentity" }],
  });

  // Attach them to the pool from its page.
  await page.goto(`${server.endpoint}/console/pools/${encodeURIComponent(poolId)}`);
  await page.click("text=Edit the roles and role mappings");
  await page.waitForURL(/\/roles$/);
  await assertLabelled(page);
  await page.fill("#authenticated", open);
  await page.fill("#unauthenticated", guests);
  await page.click("button:text-is('Save roles')");
  await page.waitForURL(/\/roles\?saved=1$/);
  assert.match(await page.textContent("[role=status]"), /Saved the roles/);
  const warnings = await page.$$eval("li.trust-warning", (items) => items.map((i) => i.textContent));
  assert.equal(warnings.length, 2, warnings.join("\n"));
  assert.match(warnings[0], /no cognito-identity\.amazonaws\.com:aud condition/);
  assert.match(warnings[1], /no cognito-identity\.amazonaws\.com:amr condition/);
  assert.match(await page.textContent("#trust-warnings-section"), /StoryOpen/);
  assert.doesNotMatch(await page.textContent("#trust-warnings-section"), /StoryGuests/);
  await shot("11-pool-roles");
  const roles = await admin.send(new GetIdentityPoolRolesCommand({ IdentityPoolId: poolId }));
  assert.deepEqual(roles.Roles, { authenticated: open, unauthenticated: guests });

  // A guest of the pool; the simulator explains why it cannot read secrets.
  const cognito = new CognitoIdentityClient(server.config());
  const { IdentityId } = await cognito.send(new GetIdCommand({ IdentityPoolId: poolId }));
  await page.click("nav >> text=Policy simulator");
  await page.waitForURL(/\/console\/simulator$/);
  await assertLabelled(page);
  await page.check("#principal-identity");
  await page.fill("#identity_id", IdentityId);
  await page.fill("#action", "s3:GetObject");
  await page.fill("#resource", "arn:aws:s3:::secrets/key");
  await page.click("button:text-is('Simulate')");
  await page.waitForSelector("#decision");
  assert.match(await page.textContent("#decision"), /explicitly denied/);
  const deciding = await page.$$eval("#deciding tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
  assert.deepEqual(deciding, [["photos", "role", "Sid NoSecrets", "Deny"]]);
  assert.ok((await page.textContent("#result")).includes(guests));
  await shot("12-simulator-deny");

  await context.close();
  assert.deepEqual(problems, []);
});

test("identities: filters, a search, a merge's history on both identities, unlink and delete", { skip: !available && "no browser", timeout: 120_000 }, async () => {
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
  const { MergeDeveloperIdentitiesCommand } = await import("@aws-sdk/client-cognito-identity");

  // A pool with a developer provider; a guest and two developer users,
  // the second merged into the first (MergeDeveloperIdentities).
  const admin = new CognitoIdentityClient(server.config(ADMIN));
  const DEV = "login.merge.example";
  const { IdentityPoolId: poolId } = await admin.send(
    new CreateIdentityPoolCommand({ IdentityPoolName: "merge_story", AllowUnauthenticatedIdentities: true, DeveloperProviderName: DEV }),
  );
  const cognito = new CognitoIdentityClient(server.config());
  const { IdentityId: guest } = await cognito.send(new GetIdCommand({ IdentityPoolId: poolId }));
  const developer = async (user) =>
    (await admin.send(new GetOpenIdTokenForDeveloperIdentityCommand({ IdentityPoolId: poolId, Logins: { [DEV]: user } }))).IdentityId;
  const ann = await developer("ann");
  const ben = await developer("ben");
  assert.notEqual(ann, ben);
  await admin.send(new MergeDeveloperIdentitiesCommand({
    IdentityPoolId: poolId, DeveloperProviderName: DEV, SourceUserIdentifier: "ben", DestinationUserIdentifier: "ann",
  }));

  await page.goto(`${server.endpoint}/console/sign-in`);
  await page.fill("#access_key_id", ADMIN.accessKeyId);
  await page.fill("#secret_access_key", ADMIN.secretAccessKey);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${server.endpoint}/console/`);

  // The filters.
  await page.goto(`${server.endpoint}/console/pools/${encodeURIComponent(poolId)}/identities`);
  await assertLabelled(page);
  const listed = () => page.$$eval("#identities tbody tr td:first-child", (cells) => cells.map((c) => c.textContent.trim()));
  assert.deepEqual(await listed(), [guest, ann, ben].sort());
  for (const [show, want] of [["guest", [guest]], ["authenticated", [ann]], ["disabled", [ben]]]) {
    await page.selectOption("#show", show);
    await page.click("button:text-is('Apply')");
    await page.waitForURL(new RegExp(`show=${show}$`));
    assert.deepEqual(await listed(), want, show);
    if (show === "disabled") await shot("20-identities-disabled");
  }

  // Search by developer user identifier: ben's login is ann's now.
  await page.fill("#search-developer-user", "ben");
  await page.press("#search-developer-user", "Enter");
  await page.waitForURL(/\/console\/identities\/[^/?]+$/);
  assert.ok(page.url().endsWith(ann), page.url());
  assert.equal(await page.textContent("#identity-kind"), "authenticated");
  const logins = await page.$$eval("#logins tbody tr td:nth-child(2)", (cells) => cells.map((c) => c.textContent.trim()));
  assert.deepEqual(logins, ["ann", "ben"]);

  // The merge on both identities, as links from one to the other.
  assert.match(await page.textContent("#merges"), new RegExp(`Merged from ${ben}`));
  await shot("21-merged-into");
  await page.click(`#merges a:has-text("${ben}")`);
  await page.waitForSelector("#identity-kind");
  assert.equal(await page.textContent("#identity-kind"), "merged");
  assert.match(await page.textContent("#merges"), new RegExp(`Merged into ${ann}`));
  await shot("22-merged-from");
  await page.click(`#merges a:has-text("${ann}")`);
  await page.waitForSelector("#logins");

  // Unlink ben's login from ann, after a confirmation.
  await page.click("#logins tr:has-text('ben') a:text-is('Unlink')");
  await page.waitForURL(/\/unlink\?/);
  assert.match(await page.textContent("main"), /Unlink a login\?/);
  await shot("23-unlink-confirm");
  await page.click("button:text-is('Unlink the login')");
  await page.waitForURL(/\?unlinked=1$/);
  assert.match(await page.textContent("[role=status]"), /The login was unlinked/);
  assert.deepEqual(await page.$$eval("#logins tbody tr td:nth-child(2)", (cells) => cells.map((c) => c.textContent.trim())), ["ann"]);

  // Delete the guest, after a confirmation.
  await page.goto(`${server.endpoint}/console/identities/${guest}`);
  await page.click("a:text-is('Delete this identity')");
  await page.waitForURL(/\/delete$/);
  await shot("24-delete-confirm");
  await page.click("button:text-is('Delete the identity')");
  await page.waitForURL(/\/identities\?deleted=1$/);
  assert.match(await page.textContent("[role=status]"), /The identity was deleted/);
  assert.deepEqual(await listed(), [ann, ben].sort());

  // The activity lists it all: the merge and the unlink on the surviving
  // identity, the guest's creation and deletion (written a moment later).
  const kindsOf = async (identity, want) => {
    let kinds = [];
    for (let i = 0; i < 50; i++) {
      await page.goto(`${server.endpoint}/console/activity?identity=${encodeURIComponent(identity)}`);
      kinds = (await page.locator("#activity tbody tr td:nth-child(2)").allTextContents()).map((k) => k.trim());
      if (want.every((kind) => kinds.includes(kind))) break;
      await page.waitForTimeout(100);
    }
    return kinds;
  };
  const annKinds = await kindsOf(ann, ["identities_merged", "login_unlinked"]);
  for (const kind of ["identities_merged", "login_unlinked"]) assert.ok(annKinds.includes(kind), `${kind} in ${annKinds}`);
  await shot("25-activity-of-the-merged");
  const guestKinds = await kindsOf(guest, ["identity_created", "identity_deleted"]);
  assert.deepEqual(guestKinds, ["identity_deleted", "identity_created"]);

  await context.close();
  assert.deepEqual(problems, []);
});

test("activity and overview: the trail lists what the API and the console did; the overview counts the calls", { skip: !available && "no browser", timeout: 120_000 }, async () => {
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
  // A pool made through the API, a guest from the JS SDK.
  const admin = new CognitoIdentityClient(server.config(ADMIN));
  const { IdentityPoolId: poolId } = await admin.send(
    new CreateIdentityPoolCommand({ IdentityPoolName: "activity_story", AllowUnauthenticatedIdentities: true }),
  );
  const anonymous = new CognitoIdentityClient(server.config());
  const { IdentityId: guest } = await anonymous.send(new GetIdCommand({ IdentityPoolId: poolId }));

  await page.goto(`${server.endpoint}/console/sign-in`);
  await page.fill("#access_key_id", ADMIN.accessKeyId);
  await page.fill("#secret_access_key", ADMIN.secretAccessKey);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${server.endpoint}/console/`);
  // A key rotated in the console.
  await page.click("nav >> text=Signing keys");
  await page.click("text=Rotate: make a new signing key");
  await page.waitForURL(/\/console\/keys\?rotated=/);

  // The activity of the pool, filtered in the form: its creation and the
  // guest, linked to their pages (the trail is written a moment later).
  await page.click("nav >> text=Activity");
  await page.waitForURL(/\/console\/activity$/);
  await assertLabelled(page);
  for (let i = 0; i < 50; i++) {
    await page.fill("#pool", poolId);
    await page.click("button:text-is('Filter')");
    await page.waitForURL(/\/console\/activity\?pool=/);
    if ((await page.locator("#activity tbody tr").count()) === 2) break;
    await page.waitForTimeout(100);
  }
  const kinds = await page.locator("#activity tbody tr td:nth-child(2)").allTextContents();
  assert.deepEqual(kinds, ["identity_created", "pool_created"]);
  const callers = await page.locator("#activity tbody tr td:nth-child(5)").allTextContents();
  assert.deepEqual(callers, ["anonymous", "admin"]);
  await shot("08-activity");
  await page.click(`#activity a[href="/console/identities/${guest}"]`);
  await page.waitForSelector("#identity-kind");
  assert.equal(await page.textContent("#identity-kind"), "guest");

  // The rotation, by the console, under its kind.
  await page.goto(`${server.endpoint}/console/activity`);
  await page.selectOption("#kind", "signing_key_rotated");
  await page.click("button:text-is('Filter')");
  await page.waitForURL(/kind=signing_key_rotated/);
  assert.equal(await page.textContent("#activity tbody tr td:nth-child(5)"), "console");

  // The overview counts the calls this node served.
  await page.click("nav >> text=Overview");
  await page.waitForSelector("#recent");
  const operations = await page.locator("#recent tbody th").allTextContents();
  assert.ok(operations.includes("GetId") && operations.includes("CreateIdentityPool"), operations.join(", "));
  await shot("09-overview");

  await context.close();
  assert.deepEqual(problems, []);
});
