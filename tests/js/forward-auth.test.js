// Forward-auth with the JS SDK v3's signer: requests signed by
// @smithy/signature-v4's SignatureV4 (service execute-api) with credentials
// from GetCredentialsForIdentity, through real Caddy (forward_auth) and
// nginx (auth_request) configured as deploy/forward-auth/ documents, in
// front of an upstream that echoes what it got and checks the body against
// the hash cognate verified. A proxy that is not installed is skipped,
// unless COGNATE_TEST_REQUIRE_PROXIES=1.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import {
  CognitoIdentityClient,
  CreateIdentityPoolCommand,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
  SetIdentityPoolRolesCommand,
} from "@aws-sdk/client-cognito-identity";
import { IAMClient, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { SignatureV4 } from "@smithy/signature-v4";

import { ADMIN, Cognate, REGION, ROOT, makeRole } from "./harness.js";

const API = "jsapi00001";
const ACCOUNT = "000000000000";
const arn = (method, path) => `arn:aws:execute-api:${REGION}:${ACCOUNT}:${API}/prod/${method}/${path}`;
const required = process.env.COGNATE_TEST_REQUIRE_PROXIES === "1";
const BINARIES = { caddy: "/usr/bin/caddy", nginx: "/usr/sbin/nginx" };

/** SHA-256 for SignatureV4, as @aws-crypto/sha256-js would be, on node:crypto. */
class Sha256 {
  constructor(secret) {
    this.hash = secret ? createHmac("sha256", secret) : createHash("sha256");
  }
  update(data) {
    this.hash.update(typeof data === "string" ? Buffer.from(data) : data);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

function startUpstream() {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const digest = createHash("sha256").update(body).digest("hex");
      const verified = req.headers["x-amzn-content-sha256"];
      const [status, answer] =
        verified !== digest
          ? [400, { message: "The body does not match the SHA-256 its signature covers." }]
          : [200, { method: req.method, uri: req.url, headers: req.headers, bodySha256: digest }];
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
    });
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

async function startProxy(kind, cognate, upstream) {
  const dir = mkdtempSync(join(tmpdir(), `cognate-${kind}-`));
  const port = await new Promise((r) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const p = probe.address().port;
      probe.close(() => r(p));
    });
  });
  const template = readFileSync(join(ROOT, "deploy", "forward-auth", kind === "nginx" ? "nginx.conf" : "Caddyfile"), "utf8");
  const site = template
    .replaceAll("{{listen}}", `127.0.0.1:${port}`)
    .replaceAll("{{cognate}}", cognate)
    .replaceAll("{{upstream}}", upstream);
  let args;
  const env = { ...process.env };
  if (kind === "nginx") {
    const user = process.getuid() === 0 ? "user root;" : "";
    writeFileSync(
      join(dir, "nginx.conf"),
      `daemon off;\n${user}\nworker_processes 1;\nerror_log ${dir}/error.log info;\npid ${dir}/nginx.pid;\n` +
        `events { worker_connections 256; }\nhttp {\n access_log off;\n client_body_temp_path ${dir}/b;\n proxy_temp_path ${dir}/p;\n` +
        ` fastcgi_temp_path ${dir}/f;\n uwsgi_temp_path ${dir}/u;\n scgi_temp_path ${dir}/s;\n${site}\n}\n`,
    );
    args = [BINARIES.nginx, ["-p", dir, "-c", join(dir, "nginx.conf")]];
  } else {
    writeFileSync(join(dir, "Caddyfile"), `{\n admin off\n auto_https off\n storage file_system ${dir}/data\n}\n${site}\n`);
    args = [BINARIES.caddy, ["run", "--adapter", "caddyfile", "--config", join(dir, "Caddyfile")]];
    Object.assign(env, { HOME: dir, XDG_DATA_HOME: `${dir}/data`, XDG_CONFIG_HOME: `${dir}/config` });
  }
  const log = openSync(join(dir, "proxy.log"), "w");
  const child = spawn(args[0], args[1], { env, stdio: ["ignore", log, log] });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const open = await new Promise((r) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        r(true);
      }).on("error", () => r(false));
    });
    if (open) return { kind, port, stop: () => (child.kill("SIGKILL"), rmSync(dir, { recursive: true, force: true })) };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${kind} did not start: ${readFileSync(join(dir, "proxy.log"), "utf8")}`);
}

let server;
let upstream;
const proxies = [];
let identityId;
let credentials;

before(async () => {
  server = await Cognate.start({ config: `[[apis]]\nid = "${API}"\nstage = "prod"\n` });
  upstream = await startUpstream();
  for (const [kind, binary] of Object.entries(BINARIES)) {
    if (!existsSync(binary)) {
      if (required) throw new Error(`COGNATE_TEST_REQUIRE_PROXIES=1 but ${kind} is not installed`);
      continue;
    }
    proxies.push(await startProxy(kind, server.endpoint.replace("http://", ""), `127.0.0.1:${upstream.address().port}`));
  }
  const cognito = new CognitoIdentityClient(server.config(ADMIN));
  const iam = new IAMClient(server.config(ADMIN));
  const pool = await cognito.send(new CreateIdentityPoolCommand({ IdentityPoolName: "js-forward", AllowUnauthenticatedIdentities: true }));
  const role = await makeRole(iam, "JsApiGuest", pool.IdentityPoolId, "unauthenticated");
  const policy = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "execute-api:Invoke", Resource: [arn("GET", "things/*"), arn("POST", "things")] }],
  };
  await iam.send(new PutRolePolicyCommand({ RoleName: role.name, PolicyName: "api", PolicyDocument: JSON.stringify(policy) }));
  await cognito.send(new SetIdentityPoolRolesCommand({ IdentityPoolId: pool.IdentityPoolId, Roles: { unauthenticated: role.arn } }));
  const anonymous = new CognitoIdentityClient({ ...server.config(), signer: { sign: async (r) => r } });
  identityId = (await anonymous.send(new GetIdCommand({ IdentityPoolId: pool.IdentityPoolId }))).IdentityId;
  const vended = (await anonymous.send(new GetCredentialsForIdentityCommand({ IdentityId: identityId }))).Credentials;
  credentials = { accessKeyId: vended.AccessKeyId, secretAccessKey: vended.SecretKey, sessionToken: vended.SessionToken };
});

after(async () => {
  for (const proxy of proxies) proxy.stop();
  upstream?.close();
  await server?.stop();
});

const signer = () => new SignatureV4({ service: "execute-api", region: REGION, credentials, sha256: Sha256 });

function request(proxy, method, path, query = {}, body) {
  const host = `127.0.0.1:${proxy.port}`;
  return { method, protocol: "http:", hostname: "127.0.0.1", port: proxy.port, path, query, headers: { host }, body };
}

async function send(proxy, signed) {
  const qs = new URLSearchParams(signed.query).toString().replaceAll("+", "%20");
  const url = `http://127.0.0.1:${proxy.port}${signed.path}${qs ? `?${qs}` : ""}`;
  const { host, ...headers } = signed.headers;
  const response = await fetch(url, { method: signed.method, headers, body: signed.body });
  const text = await response.text();
  return { status: response.status, errorType: response.headers.get("x-amzn-errortype"), json: text ? JSON.parse(text) : null };
}

test("a request SignatureV4 signed passes with who called, through each proxy", async () => {
  for (const proxy of proxies) {
    const signed = await signer().sign(request(proxy, "GET", "/things/1", { q: "a b" }));
    const answer = await send(proxy, signed);
    assert.equal(answer.status, 200, `${proxy.kind}: ${JSON.stringify(answer.json)}`);
    assert.equal(answer.json.headers["x-cognito-identity-id"], identityId);
    assert.equal(answer.json.headers["x-amzn-resource-arn"], arn("GET", "things/1"));

    const body = JSON.stringify({ name: "widget" });
    const posted = await send(proxy, await signer().sign(request(proxy, "POST", "/things", {}, body)));
    assert.equal(posted.status, 200, `${proxy.kind}: ${JSON.stringify(posted.json)}`);
    assert.equal(posted.json.bodySha256, createHash("sha256").update(body).digest("hex"));
  }
});

test("a presigned URL works like a signed header", async () => {
  for (const proxy of proxies) {
    const presigned = await signer().presign(request(proxy, "GET", "/things/2"), { expiresIn: 300 });
    const answer = await send(proxy, presigned);
    assert.equal(answer.status, 200, `${proxy.kind}: ${JSON.stringify(answer.json)}`);
  }
});

test("denials and tampering get API Gateway's answers", async () => {
  for (const proxy of proxies) {
    const denied = await send(proxy, await signer().sign(request(proxy, "DELETE", "/things/1")));
    assert.equal(denied.status, 403);
    assert.equal(denied.errorType, "AccessDeniedException");
    assert.match(denied.json.Message, /is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:000000000000:jsapi00001\/prod\/DELETE\/things\/1$/);

    const signed = await signer().sign(request(proxy, "GET", "/things/1"));
    const tampered = await send(proxy, { ...signed, path: "/things/2" });
    assert.equal(tampered.status, 403);
    assert.equal(tampered.errorType, "InvalidSignatureException");

    const body = JSON.stringify({ n: 1 });
    const posted = await signer().sign(request(proxy, "POST", "/things", {}, body));
    const swapped = await send(proxy, { ...posted, body: JSON.stringify({ n: 2 }), headers: { ...posted.headers, "content-length": "7" } });
    assert.equal(swapped.status, 400, `${proxy.kind}: ${JSON.stringify(swapped.json)}`);
  }
});
