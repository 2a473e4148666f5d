// The offline Amplify stack, set up as a user would: cognito-local (the npm
// user-pool emulator, pinned in package.json) signs the user in, cognate
// vends the identity pool's credentials, and Amplify JS v6 talks to both
// through `userPoolEndpoint` and `identityPoolEndpoint`.
//
// cognito-local's ID tokens say `iss = http://<host>:<port>/<pool id>`, so
// Amplify sends the Logins key `<host>:<port>/<pool id>`; the identity pool
// names that key in CognitoIdentityProviders, as it would name
// `cognito-idp.<region>.amazonaws.com/<pool id>` on AWS. The authenticated
// role trusts only `amr` values `<key>:CognitoSignIn:*`, so assuming it shows
// the login counted as a user pool's.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  AdminCreateUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
} from "@aws-sdk/client-cognito-identity-provider";
import {
  CognitoIdentityClient,
  CreateIdentityPoolCommand,
  ListIdentitiesCommand,
  SetIdentityPoolRolesCommand,
} from "@aws-sdk/client-cognito-identity";
import { IAMClient } from "@aws-sdk/client-iam";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { Amplify } from "aws-amplify";
import { fetchAuthSession, signIn, signOut } from "aws-amplify/auth";
import { cognitoCredentialsProvider, cognitoUserPoolsTokenProvider } from "aws-amplify/auth/cognito";

import { ADMIN, Cognate, REGION, makeRole } from "./harness.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const COGNITO_LOCAL = join(HERE, "node_modules", "cognito-local", "lib", "bin", "start.js");
const USERNAME = "alice@example.com";
const PASSWORD = "Offline-Passw0rd!";

/** A TCP port that was free a moment ago on 127.0.0.1. */
async function freePort() {
  const probe = createServer();
  await new Promise((r) => probe.listen(0, "127.0.0.1", r));
  const { port } = probe.address();
  await new Promise((r) => probe.close(r));
  return port;
}

/** cognito-local on 127.0.0.1:<free port>, with its data in a temp dir. */
class CognitoLocal {
  static async start() {
    const dir = mkdtempSync(join(tmpdir(), "cognito-local-"));
    const port = await freePort();
    const child = spawn(process.execPath, [COGNITO_LOCAL], {
      // Its data lives in ./.cognito of its working directory.
      cwd: dir,
      env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), NO_COLOR: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = [];
    child.stdout.on("data", (c) => log.push(c.toString()));
    child.stderr.on("data", (c) => log.push(c.toString()));
    const local = new CognitoLocal(child, dir, `http://127.0.0.1:${port}`, log);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`cognito-local exited:\n${log.join("")}`);
      const up = await fetch(`${local.endpoint}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return local;
      if (Date.now() > deadline) {
        await local.stop();
        throw new Error(`cognito-local did not start:\n${log.join("")}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  constructor(child, dir, endpoint, log) {
    this.child = child;
    this.dir = dir;
    this.endpoint = endpoint;
    this.log = log;
  }

  async stop() {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill("SIGTERM");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What Amplify keeps (tokens) in Node: a plain in-memory KeyValueStorage. */
class MemoryStorage {
  constructor() {
    this.items = new Map();
  }
  async setItem(key, value) {
    this.items.set(key, value);
  }
  async getItem(key) {
    return this.items.get(key) ?? null;
  }
  async removeItem(key) {
    this.items.delete(key);
  }
  async clear() {
    this.items.clear();
  }
}

let cognate;
let local;
let userPoolId;
let clientId;
let identityPoolId;
let providerName;
let authRole;

before(async () => {
  [cognate, local] = await Promise.all([Cognate.start(), CognitoLocal.start()]);

  // The user pool, its app client and a confirmed user, through
  // cognito-local's API as the AWS SDK calls it.
  const idp = new CognitoIdentityProviderClient({
    region: REGION,
    endpoint: local.endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  ({
    UserPool: { Id: userPoolId },
  } = await idp.send(new CreateUserPoolCommand({ PoolName: "offline" })));
  ({
    UserPoolClient: { ClientId: clientId },
  } = await idp.send(
    new CreateUserPoolClientCommand({
      UserPoolId: userPoolId,
      ClientName: "web",
      ExplicitAuthFlows: ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    }),
  ));
  await idp.send(
    new AdminCreateUserCommand({
      UserPoolId: userPoolId,
      Username: USERNAME,
      TemporaryPassword: "Temporary-Passw0rd!",
      MessageAction: "SUPPRESS",
      UserAttributes: [
        { Name: "email", Value: USERNAME },
        { Name: "email_verified", Value: "true" },
      ],
    }),
  );
  await idp.send(
    new AdminSetUserPasswordCommand({
      UserPoolId: userPoolId,
      Username: USERNAME,
      Password: PASSWORD,
      Permanent: true,
    }),
  );

  // The identity pool names the user pool as Amplify will: the issuer of
  // cognito-local's tokens without its scheme.
  providerName = `${local.endpoint.replace(/^http:\/\//, "")}/${userPoolId}`;
  const admin = new CognitoIdentityClient(cognate.config(ADMIN));
  ({ IdentityPoolId: identityPoolId } = await admin.send(
    new CreateIdentityPoolCommand({
      IdentityPoolName: "offline_amplify",
      AllowUnauthenticatedIdentities: false,
      CognitoIdentityProviders: [{ ProviderName: providerName, ClientId: clientId }],
    }),
  ));
  const iam = new IAMClient(cognate.config(ADMIN));
  authRole = await makeRole(iam, "OfflineAuth", identityPoolId, `${providerName}:CognitoSignIn:*`);
  await admin.send(
    new SetIdentityPoolRolesCommand({ IdentityPoolId: identityPoolId, Roles: { authenticated: authRole.arn } }),
  );

  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId,
        userPoolClientId: clientId,
        userPoolEndpoint: local.endpoint,
        identityPoolId,
        identityPoolEndpoint: cognate.endpoint,
        allowGuestAccess: false,
        loginWith: { email: true },
      },
    },
  });
  // After configure, which installs its default storage.
  cognitoUserPoolsTokenProvider.setKeyValueStorage(new MemoryStorage());
}, { timeout: 60_000 });

after(async () => {
  await Promise.all([cognate?.stop(), local?.stop()]);
});

async function signedInSession() {
  const result = await signIn({
    username: USERNAME,
    password: PASSWORD,
    options: { authFlowType: "USER_PASSWORD_AUTH" },
  });
  assert.equal(result.isSignedIn, true, JSON.stringify(result.nextStep));
  const session = await fetchAuthSession();
  assert.ok(session.credentials, "fetchAuthSession gave no credentials");
  return session;
}

test("Amplify signs in with cognito-local and gets cognate's credentials for the authenticated role", { timeout: 60_000 }, async () => {
  const session = await signedInSession();
  assert.equal(session.tokens.idToken.payload.iss, `${local.endpoint}/${userPoolId}`);
  assert.equal(session.tokens.idToken.payload.aud, clientId);
  assert.match(session.identityId, /^us-east-1:[0-9a-f-]{36}$/);
  assert.match(session.credentials.accessKeyId, /^ASIA/);

  const sts = new STSClient({ ...cognate.config(session.credentials) });
  const me = await sts.send(new GetCallerIdentityCommand({}));
  assert.match(me.Arn, new RegExp(`:assumed-role/${authRole.name}/`));

  // Signed out, on a device that forgot its identity id: signing in again
  // finds the same identity in cognate.
  const first = session.identityId;
  await signOut();
  await cognitoCredentialsProvider.clearCredentialsAndIdentityId();
  const again = await signedInSession();
  assert.equal(again.identityId, first);
  const sts2 = new STSClient({ ...cognate.config(again.credentials) });
  assert.match((await sts2.send(new GetCallerIdentityCommand({}))).Arn, new RegExp(`:assumed-role/${authRole.name}/`));

  const admin = new CognitoIdentityClient(cognate.config(ADMIN));
  const listed = await admin.send(new ListIdentitiesCommand({ IdentityPoolId: identityPoolId, MaxResults: 10 }));
  assert.deepEqual(
    listed.Identities.map((i) => [i.IdentityId, i.Logins]),
    [[first, [providerName]]],
  );
  await signOut();
});
