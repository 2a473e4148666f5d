// Amplify JS v6 against cognate through `identityPoolEndpoint`:
// fetchAuthSession() for a guest, and for a signed-in user whose ID token
// comes from an OpenID Connect issuer through a custom token provider
// (`Amplify.configure(config, { Auth: { tokenProvider, credentialsProvider } })`).
// Amplify builds the Logins key from the ID token's `iss` without its
// scheme, so the pool names that provider (registered through IAM).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  CognitoIdentityClient,
  CreateIdentityPoolCommand,
  SetIdentityPoolRolesCommand,
} from "@aws-sdk/client-cognito-identity";
import { CreateOpenIDConnectProviderCommand, IAMClient } from "@aws-sdk/client-iam";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { Amplify } from "aws-amplify";
import { decodeJWT, fetchAuthSession } from "aws-amplify/auth";
import { CognitoAWSCredentialsAndIdentityIdProvider, DefaultIdentityIdStore } from "aws-amplify/auth/cognito";

import { ADMIN, Cognate, OidcIssuer, makeRole } from "./harness.js";

const CLIENT_ID = "amplify-web-1";

/** A KeyValueStorage in memory, one per configuration. */
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
let issuer;
let identityPoolId;
let roles; // { guest, user }: { name, arn }

before(async () => {
  [cognate, issuer] = await Promise.all([Cognate.start(), OidcIssuer.start()]);
  const iam = new IAMClient(cognate.config(ADMIN));
  const { OpenIDConnectProviderArn } = await iam.send(
    new CreateOpenIDConnectProviderCommand({ Url: issuer.url, ClientIDList: [CLIENT_ID] }),
  );
  const admin = new CognitoIdentityClient(cognate.config(ADMIN));
  ({ IdentityPoolId: identityPoolId } = await admin.send(
    new CreateIdentityPoolCommand({
      IdentityPoolName: "amplify_v6",
      AllowUnauthenticatedIdentities: true,
      OpenIdConnectProviderARNs: [OpenIDConnectProviderArn],
    }),
  ));
  roles = {
    guest: await makeRole(iam, "AmplifyGuest", identityPoolId, "unauthenticated"),
    user: await makeRole(iam, "AmplifyUser", identityPoolId, issuer.loginsKey),
  };
  await admin.send(
    new SetIdentityPoolRolesCommand({
      IdentityPoolId: identityPoolId,
      Roles: { unauthenticated: roles.guest.arn, authenticated: roles.user.arn },
    }),
  );
}, { timeout: 60_000 });

after(async () => {
  await Promise.all([cognate?.stop(), issuer?.stop()]);
});

/** Amplify's configuration for an identity pool on cognate. */
function identityPoolConfig() {
  return {
    Auth: {
      Cognito: {
        identityPoolId,
        identityPoolEndpoint: cognate.endpoint,
        allowGuestAccess: true,
      },
    },
  };
}

/** The role STS sees for a session's credentials. */
async function roleOf(credentials) {
  const me = await new STSClient(cognate.config(credentials)).send(new GetCallerIdentityCommand({}));
  return me.Arn.split("/")[1];
}

test("fetchAuthSession() gives a guest its identity and the guest role's credentials", { timeout: 30_000 }, async () => {
  Amplify.configure(identityPoolConfig());
  const session = await fetchAuthSession();
  assert.equal(session.tokens, undefined);
  assert.match(session.identityId, /^us-east-1:[0-9a-f-]{36}$/);
  assert.match(session.credentials.accessKeyId, /^ASIA/);
  assert.ok(session.credentials.sessionToken);
  assert.ok(session.credentials.expiration instanceof Date);
  assert.equal(await roleOf(session.credentials), roles.guest.name);

  // The identity id is kept; forcing a refresh asks cognate again for it.
  const again = await fetchAuthSession({ forceRefresh: true });
  assert.equal(again.identityId, session.identityId);
  assert.notEqual(again.credentials.accessKeyId, session.credentials.accessKeyId);
});

test("fetchAuthSession() with a custom token provider's OIDC ID token gets the authenticated role", { timeout: 30_000 }, async () => {
  let idToken = issuer.token("amplify-user-1", CLIENT_ID);
  const tokenProvider = {
    async getTokens() {
      // Amplify reads `sub` from the access token and sends the ID token.
      return { idToken: decodeJWT(idToken), accessToken: decodeJWT(idToken) };
    },
  };
  const storage = new MemoryStorage();
  const credentialsProvider = new CognitoAWSCredentialsAndIdentityIdProvider(new DefaultIdentityIdStore(storage));
  Amplify.configure(identityPoolConfig(), { Auth: { tokenProvider, credentialsProvider } });

  const session = await fetchAuthSession();
  assert.equal(session.userSub, "amplify-user-1");
  assert.match(session.identityId, /^us-east-1:[0-9a-f-]{36}$/);
  assert.equal(await roleOf(session.credentials), roles.user.name);

  // A fresh ID token for the same user (another device, nothing kept)
  // reaches the same identity.
  idToken = issuer.token("amplify-user-1", CLIENT_ID, { nonce: "second" });
  const elsewhere = new CognitoAWSCredentialsAndIdentityIdProvider(new DefaultIdentityIdStore(new MemoryStorage()));
  Amplify.configure(identityPoolConfig(), { Auth: { tokenProvider, credentialsProvider: elsewhere } });
  const again = await fetchAuthSession();
  assert.equal(again.identityId, session.identityId);
  assert.equal(await roleOf(again.credentials), roles.user.name);

  // Another user is another identity.
  idToken = issuer.token("amplify-user-2", CLIENT_ID);
  const third = new CognitoAWSCredentialsAndIdentityIdProvider(new DefaultIdentityIdStore(new MemoryStorage()));
  Amplify.configure(identityPoolConfig(), { Auth: { tokenProvider, credentialsProvider: third } });
  const other = await fetchAuthSession();
  assert.notEqual(other.identityId, session.identityId);

  // A token the pool does not accept fails the session, as Amplify reports it.
  idToken = issuer.token("amplify-user-3", "another-client");
  const fourth = new CognitoAWSCredentialsAndIdentityIdProvider(new DefaultIdentityIdStore(new MemoryStorage()));
  Amplify.configure(identityPoolConfig(), { Auth: { tokenProvider, credentialsProvider: fourth } });
  await assert.rejects(fetchAuthSession(), (e) => {
    assert.equal(e.name, "NotAuthorizedException", `${e.name}: ${e.message}`);
    return true;
  });
});
