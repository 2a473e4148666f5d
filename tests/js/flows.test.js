// The AWS SDK for JavaScript v3 against a running cognate: the credential
// providers apps use (fromCognitoIdentityPool, fromCognitoIdentity,
// fromWebToken), the clients' typed errors, and admin calls signed by the
// SDK's own SigV4.

import assert from "node:assert/strict";
import { createPublicKey, createVerify } from "node:crypto";
import { after, before, test } from "node:test";

import {
  CognitoIdentityClient,
  CreateIdentityPoolCommand,
  DeleteIdentitiesCommand,
  DescribeIdentityPoolCommand,
  GetIdCommand,
  GetOpenIdTokenCommand,
  GetOpenIdTokenForDeveloperIdentityCommand,
  ListIdentitiesCommand,
  SetIdentityPoolRolesCommand,
} from "@aws-sdk/client-cognito-identity";
import { CreateOpenIDConnectProviderCommand, IAMClient } from "@aws-sdk/client-iam";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromCognitoIdentity, fromCognitoIdentityPool, fromWebToken } from "@aws-sdk/credential-providers";

import { ADMIN, Cognate, OidcIssuer, makeRole, unique } from "./harness.js";

const CLIENT_ID = "js-client-1";
const DEVELOPER_PROVIDER = "login.js.example";
let server;
let issuer;
let admin;
let iam;
let pool; // { id, unauthenticated: {name, arn}, authenticated: {name, arn} }

/** The identity STS sees for credentials, through a client signed with them. */
async function callerOf(credentials) {
  return new STSClient(server.config(credentials)).send(new GetCallerIdentityCommand({}));
}

async function identitiesOf(poolId) {
  const listed = await admin.send(new ListIdentitiesCommand({ IdentityPoolId: poolId, MaxResults: 60 }));
  return listed.Identities.map((i) => i.IdentityId);
}

/** Runs `call`, which must fail with the service error `name` (HTTP 400). */
async function rejectsWith(name, call) {
  const err = await call().then(
    () => assert.fail(`expected ${name}`),
    (e) => e,
  );
  assert.equal(err.name, name, `${err.name}: ${err.message}`);
  assert.equal(err.$metadata?.httpStatusCode, 400);
  assert.ok(err.message.length > 0);
  return err;
}

before(async () => {
  server = await Cognate.start();
  issuer = await OidcIssuer.start();
  admin = new CognitoIdentityClient(server.config(ADMIN));
  iam = new IAMClient(server.config(ADMIN));
  const { OpenIDConnectProviderArn } = await iam.send(
    new CreateOpenIDConnectProviderCommand({ Url: issuer.url, ClientIDList: [CLIENT_ID] }),
  );
  const created = await admin.send(
    new CreateIdentityPoolCommand({
      IdentityPoolName: "js compat",
      AllowUnauthenticatedIdentities: true,
      OpenIdConnectProviderARNs: [OpenIDConnectProviderArn],
      DeveloperProviderName: DEVELOPER_PROVIDER,
    }),
  );
  pool = {
    id: created.IdentityPoolId,
    unauthenticated: await makeRole(iam, "Unauth", created.IdentityPoolId, "unauthenticated"),
    authenticated: await makeRole(iam, "Auth", created.IdentityPoolId, "authenticated"),
  };
  await admin.send(
    new SetIdentityPoolRolesCommand({
      IdentityPoolId: pool.id,
      Roles: { unauthenticated: pool.unauthenticated.arn, authenticated: pool.authenticated.arn },
    }),
  );
});

after(async () => {
  await server?.stop();
  await issuer?.stop();
});

test("a guest gets credentials from fromCognitoIdentityPool, and keeps its identity", async () => {
  const before = Date.now();
  const provider = fromCognitoIdentityPool({ identityPoolId: pool.id, clientConfig: server.config() });
  const credentials = await provider();
  assert.match(credentials.identityId, /^us-east-1:[0-9a-f-]{36}$/);
  assert.match(credentials.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
  assert.ok(credentials.secretAccessKey.length >= 40);
  assert.ok(credentials.sessionToken.length > 0);
  // Parsed from an epoch number into a Date, an hour ahead.
  assert.ok(credentials.expiration instanceof Date);
  assert.ok(Math.abs(credentials.expiration.getTime() - (before + 3_600_000)) < 60_000);

  const caller = await callerOf(credentials);
  assert.equal(
    caller.Arn,
    `arn:aws:sts::000000000000:assumed-role/${pool.unauthenticated.name}/CognitoIdentityCredentials`,
  );
  assert.equal(caller.Account, "000000000000");
  assert.match(caller.UserId, /^AROA[A-Z0-9]+:CognitoIdentityCredentials$/);

  // The provider caches the guest's id (as a browser keeps it in
  // localStorage): a second provider for the pool reuses it.
  const again = await fromCognitoIdentityPool({ identityPoolId: pool.id, clientConfig: server.config() })();
  assert.equal(again.identityId, credentials.identityId);
  assert.notEqual(again.accessKeyId, credentials.accessKeyId);
  assert.deepEqual(await identitiesOf(pool.id), [credentials.identityId]);
});

test("a login from an OpenID Connect issuer gets the authenticated role", async () => {
  const sub = unique("user");
  const logins = { [issuer.loginsKey]: issuer.token(sub, CLIENT_ID) };
  const credentials = await fromCognitoIdentityPool({
    identityPoolId: pool.id,
    logins,
    clientConfig: server.config(),
  })();
  const caller = await callerOf(credentials);
  assert.equal(
    caller.Arn,
    `arn:aws:sts::000000000000:assumed-role/${pool.authenticated.name}/CognitoIdentityCredentials`,
  );
  // The same subject on another device (a fresh token, no cache): the same identity.
  const public_ = new CognitoIdentityClient(server.config());
  const { IdentityId } = await public_.send(
    new GetIdCommand({ IdentityPoolId: pool.id, Logins: { [issuer.loginsKey]: issuer.token(sub, CLIENT_ID) } }),
  );
  assert.equal(IdentityId, credentials.identityId);
  assert.ok(issuer.requests.includes("/jwks.json"), "cognate fetched the issuer's keys");
});

test("bad tokens and unknown pools fail with the service's typed errors", async () => {
  const sub = unique("user");
  const tampered = fromCognitoIdentityPool({
    identityPoolId: pool.id,
    logins: { [issuer.loginsKey]: issuer.tampered(sub, CLIENT_ID) },
    clientConfig: server.config(),
  });
  const err = await rejectsWith("NotAuthorizedException", () => tampered());
  assert.match(err.message, /Invalid login token/);
  await rejectsWith("NotAuthorizedException", () =>
    fromCognitoIdentityPool({
      identityPoolId: pool.id,
      logins: { [issuer.loginsKey]: issuer.token(sub, "another-client") },
      clientConfig: server.config(),
    })(),
  );
  const public_ = new CognitoIdentityClient(server.config());
  const missing = "us-east-1:00000000-0000-4000-8000-000000000000";
  const notFound = await rejectsWith("ResourceNotFoundException", () =>
    public_.send(new GetIdCommand({ IdentityPoolId: missing })),
  );
  assert.equal(notFound.message, `IdentityPool '${missing}' not found.`);
  // The JS SDK checks almost nothing itself: the server's validation answers.
  await rejectsWith("ValidationException", () =>
    admin.send(new DescribeIdentityPoolCommand({ IdentityPoolId: "not a pool id" })),
  );
  // An admin call signed with the wrong secret.
  const forged = new CognitoIdentityClient(
    server.config({ accessKeyId: ADMIN.accessKeyId, secretAccessKey: "wrong/secret/0000000000000000000000000000" }),
  );
  const forgedErr = await rejectsWith("InvalidSignatureException", () =>
    forged.send(new DescribeIdentityPoolCommand({ IdentityPoolId: pool.id })),
  );
  assert.match(forgedErr.message, /signature we calculated does not match/);
});

/** Verifies a token cognate signed against its published JWKS. */
async function verifiedClaims(token) {
  const discovery = await (await fetch(`${server.endpoint}/.well-known/openid-configuration`)).json();
  const jwks = await (await fetch(discovery.jwks_uri.replace(/^https?:\/\/[^/]+/, server.endpoint))).json();
  const [header, payload, signature] = token.split(".");
  const { kid, alg } = JSON.parse(Buffer.from(header, "base64url"));
  assert.equal(alg, "RS512");
  const jwk = jwks.keys.find((k) => k.kid === kid);
  assert.ok(jwk, `kid ${kid} is published`);
  const valid = createVerify("RSA-SHA512")
    .update(`${header}.${payload}`)
    .verify(createPublicKey({ key: jwk, format: "jwk" }), Buffer.from(signature, "base64url"));
  assert.ok(valid, "the signature verifies against the JWKS");
  return JSON.parse(Buffer.from(payload, "base64url"));
}

test("the basic flow: GetOpenIdToken, then fromWebToken through STS", async () => {
  const public_ = new CognitoIdentityClient(server.config());
  const sub = unique("user");
  const logins = { [issuer.loginsKey]: issuer.token(sub, CLIENT_ID) };
  const { IdentityId } = await public_.send(new GetIdCommand({ IdentityPoolId: pool.id, Logins: logins }));
  const { Token } = await public_.send(new GetOpenIdTokenCommand({ IdentityId, Logins: logins }));
  const claims = await verifiedClaims(Token);
  assert.equal(claims.sub, IdentityId);
  assert.equal(claims.aud, pool.id);
  // The OIDC entry names the client id the token was for (the
  // reference leaves the middle part open; cognate writes the audience).
  assert.deepEqual(claims.amr, ["authenticated", issuer.loginsKey, `${issuer.loginsKey}:${CLIENT_ID}:${sub}`]);
  assert.equal(claims.exp - claims.iat, 600);

  const credentials = await fromWebToken({
    roleArn: pool.authenticated.arn,
    webIdentityToken: Token,
    roleSessionName: "js-basic-flow",
    clientConfig: server.config(),
  })();
  assert.match(credentials.accessKeyId, /^ASIA/);
  // Parsed from the XML's ISO 8601 time into a Date, an hour ahead.
  assert.ok(credentials.expiration instanceof Date);
  assert.ok(Math.abs(credentials.expiration.getTime() - (Date.now() + 3_600_000)) < 60_000);
  const caller = await callerOf(credentials);
  assert.equal(caller.Arn, `arn:aws:sts::000000000000:assumed-role/${pool.authenticated.name}/js-basic-flow`);

  // The guest role's trust policy wants amr "unauthenticated": refused.
  const refused = await fromWebToken({
    roleArn: pool.unauthenticated.arn,
    webIdentityToken: Token,
    roleSessionName: "js-basic-flow",
    clientConfig: server.config(),
  })().then(
    () => assert.fail("the guest role's trust policy let an authenticated token in"),
    (e) => e,
  );
  assert.equal(refused.name, "AccessDenied");
  assert.equal(refused.$metadata.httpStatusCode, 403);
});

test("developer-authenticated identities: a signed backend call, then fromCognitoIdentity", async () => {
  const userId = unique("dev-user");
  const { IdentityId, Token } = await admin.send(
    new GetOpenIdTokenForDeveloperIdentityCommand({
      IdentityPoolId: pool.id,
      Logins: { [DEVELOPER_PROVIDER]: userId },
    }),
  );
  const claims = await verifiedClaims(Token);
  assert.equal(claims.sub, IdentityId);
  assert.deepEqual(claims.amr, ["authenticated", DEVELOPER_PROVIDER, `${DEVELOPER_PROVIDER}:${pool.id}:${userId}`]);
  assert.equal(claims.exp - claims.iat, 900);
  // The app hands the token to its client, which trades it for credentials.
  const credentials = await fromCognitoIdentity({
    identityId: IdentityId,
    logins: { "cognito-identity.amazonaws.com": Token },
    clientConfig: server.config(),
  })();
  assert.equal(credentials.identityId, IdentityId);
  const caller = await callerOf(credentials);
  assert.equal(
    caller.Arn,
    `arn:aws:sts::000000000000:assumed-role/${pool.authenticated.name}/CognitoIdentityCredentials`,
  );
  // The same user id maps to the same identity.
  const again = await admin.send(
    new GetOpenIdTokenForDeveloperIdentityCommand({ IdentityPoolId: pool.id, Logins: { [DEVELOPER_PROVIDER]: userId } }),
  );
  assert.equal(again.IdentityId, IdentityId);
});

test("a cached guest id that was deleted: the provider fails once, forgets it, then starts afresh", async () => {
  // A pool of its own, so the module-level cache starts empty for it.
  const { IdentityPoolId } = await admin.send(
    new CreateIdentityPoolCommand({ IdentityPoolName: "js deleted guest", AllowUnauthenticatedIdentities: true }),
  );
  const guestRole = await makeRole(iam, "Gone", IdentityPoolId, "unauthenticated");
  await admin.send(new SetIdentityPoolRolesCommand({ IdentityPoolId, Roles: { unauthenticated: guestRole.arn } }));
  const provider = fromCognitoIdentityPool({ identityPoolId: IdentityPoolId, clientConfig: server.config() });
  const { identityId } = await provider();
  const deleted = await admin.send(new DeleteIdentitiesCommand({ IdentityIdsToDelete: [identityId] }));
  assert.deepEqual(deleted.UnprocessedIdentityIds ?? [], []);

  // The cached id is asked for: ResourceNotFoundException, and the
  // provider drops the cache entry.
  const err = await rejectsWith("ResourceNotFoundException", () => provider());
  assert.equal(err.message, `Identity '${identityId}' not found.`);
  // The next call (this SDK's provider reads the cache on every call, so
  // the same instance recovers too) runs GetId and gets a new guest.
  const fresh = await provider();
  assert.notEqual(fresh.identityId, identityId);
  const other = await fromCognitoIdentityPool({ identityPoolId: IdentityPoolId, clientConfig: server.config() })();
  assert.equal(other.identityId, fresh.identityId);
  assert.deepEqual(await identitiesOf(IdentityPoolId), [fresh.identityId]);
});
