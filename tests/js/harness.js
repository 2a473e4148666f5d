// A real cognate server and a real OpenID Connect issuer for the JS SDK
// suite: the server is the binary COGNATE_BIN (default target/debug/cognate)
// on an ephemeral port with its own data directory; the issuer serves
// discovery and JWKS on 127.0.0.1 and signs RS256 tokens with node:crypto.

import { spawn } from "node:child_process";
import { createSign, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { CreateRoleCommand } from "@aws-sdk/client-iam";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = process.env.COGNATE_BIN ?? join(ROOT, "target", "debug", "cognate");

export const REGION = "us-east-1";
export const ADMIN = {
  accessKeyId: "AKIAJSCOMPATADMIN001",
  secretAccessKey: "js/compat/secret/key/00000000000000000000",
};

export class Cognate {
  /** `config`: the text of a config file to start with (TOML). */
  static async start({ config } = {}) {
    const dir = mkdtempSync(join(tmpdir(), "cognate-js-"));
    const args = ["serve"];
    if (config !== undefined) {
      writeFileSync(join(dir, "cognate.toml"), config);
      args.push("--config", join(dir, "cognate.toml"));
    }
    const child = spawn(BIN, args, {
      env: {
        ...process.env,
        COGNATE_LISTEN: "127.0.0.1:0",
        COGNATE_DATA_DIR: join(dir, "data"),
        COGNATE_ADMIN_ACCESS_KEY_ID: ADMIN.accessKeyId,
        COGNATE_ADMIN_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
        COGNATE_LOG: "info",
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = [];
    const endpoint = await new Promise((resolveEndpoint, reject) => {
      const timer = setTimeout(() => reject(new Error(`cognate did not start:\n${log.join("")}`)), 30_000);
      const read = (chunk) => {
        log.push(chunk.toString());
        const m = log.join("").match(/listening on (http:\/\/[0-9.:]+)/);
        if (m) {
          clearTimeout(timer);
          resolveEndpoint(m[1]);
        }
      };
      child.stdout.on("data", read);
      child.stderr.on("data", read);
      child.on("exit", (code) => reject(new Error(`cognate exited (${code}):\n${log.join("")}`)));
    });
    return new Cognate(child, dir, endpoint, log);
  }

  constructor(child, dir, endpoint, log) {
    this.child = child;
    this.dir = dir;
    this.endpoint = endpoint;
    this.log = log;
  }

  /** The configuration every SDK client of these tests gets. */
  config(credentials) {
    return { region: REGION, endpoint: this.endpoint, maxAttempts: 1, ...(credentials ? { credentials } : {}) };
  }

  async stop() {
    this.child.removeAllListeners("exit");
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const b64url = (data) => Buffer.from(data).toString("base64url");

export class OidcIssuer {
  static async start() {
    const issuer = new OidcIssuer();
    await new Promise((r) => issuer.http.listen(0, "127.0.0.1", r));
    issuer.url = `http://127.0.0.1:${issuer.http.address().port}`;
    return issuer;
  }

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.kid = `kid-${randomUUID().slice(0, 12)}`;
    this.jwk = { ...publicKey.export({ format: "jwk" }), alg: "RS256", use: "sig", kid: this.kid };
    this.requests = [];
    this.http = createServer((req, res) => {
      this.requests.push(req.url);
      const documents = {
        "/.well-known/openid-configuration": () => ({
          issuer: this.url,
          jwks_uri: `${this.url}/jwks.json`,
          authorization_endpoint: `${this.url}/authorize`,
          response_types_supported: ["code"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
        }),
        "/jwks.json": () => ({ keys: [this.jwk] }),
      };
      const document = documents[req.url.split("?")[0]];
      res.writeHead(document ? 200 : 404, { "content-type": "application/json" });
      res.end(document ? JSON.stringify(document()) : "{}");
    });
  }

  /** The Logins key: the issuer URL without its scheme. */
  get loginsKey() {
    return this.url.replace(/^https?:\/\//, "");
  }

  token(sub, aud, claims = {}) {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: this.kid }));
    const payload = b64url(
      JSON.stringify({ iss: this.url, sub, aud, iat: now, exp: now + 3600, ...claims }),
    );
    const signature = createSign("RSA-SHA256").update(`${header}.${payload}`).sign(this.privateKey);
    return `${header}.${payload}.${b64url(signature)}`;
  }

  /** A token whose claims were changed after signing. */
  tampered(sub, aud) {
    const [header, , signature] = this.token(sub, aud).split(".");
    const now = Math.floor(Date.now() / 1000);
    const payload = b64url(JSON.stringify({ iss: this.url, sub: `${sub}-evil`, aud, iat: now, exp: now + 3600 }));
    return `${header}.${payload}.${signature}`;
  }

  async stop() {
    await new Promise((r) => this.http.close(r));
  }
}

export const unique = (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A trust policy for Cognito identities of `poolId` whose amr matches. */
export function trustPolicy(poolId, amr) {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: "cognito-identity.amazonaws.com" },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: { "cognito-identity.amazonaws.com:aud": poolId },
          "ForAnyValue:StringLike": { "cognito-identity.amazonaws.com:amr": amr },
        },
      },
    ],
  });
}

/** A role for `poolId`'s identities whose amr matches: { name, arn }. */
export async function makeRole(iam, prefix, poolId, amr) {
  const name = unique(prefix);
  const { Role } = await iam.send(
    new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trustPolicy(poolId, amr) }),
  );
  return { name, arn: Role.Arn };
}
