"""Two cognate nodes on a Patroni cluster survive the loss of its primary.

The test starts everything itself (see patroni_cluster.py): etcd, two
Patroni nodes with synchronous replication, HAProxy routing to the primary
by Patroni's REST API, and two `cognate serve` nodes whose
COGNATE_DATABASE_URL points at HAProxy. Both nodes serve a workload
throughout (guest GetId and GetCredentialsForIdentity; developer
identities made with GetOpenIdTokenForDeveloperIdentity and merged with
MergeDeveloperIdentities), with boto3 clients that never retry and time out
reads, so an error or a hang is seen as the client sees it.

Round 1 kills the leader's postmaster with SIGKILL (Patroni, with
primary_start_timeout 0, fails over at once); round 2 kills the leader's
Patroni and all of its PostgreSQL together (the replica takes over when the
leader key expires, ttl 10 s). After each round:

- every acknowledged write is there: each identity id GetId returned
  (DescribeIdentity, alternating nodes, and a count on the new primary),
  each developer user id's identity, each answered merge
  (LookupDeveloperIdentity through both nodes);
- both cognate nodes serve again without a restart, and the seconds from
  the new primary accepting writes (a direct INSERT on it succeeds) to the
  first success on each node are reported (target under 5 s; asserted
  under 15 s so the test is not flaky);
- during the gap, every failure is a retryable error in the protocol's
  shape: HTTP 5xx with an `x-amzn-ErrorType` header and JSON `__type` of
  InternalErrorException or ServiceUnavailable and a request id. Anything
  else fails the test: a 4xx for a valid request, a body that is not
  AWS-shaped, a connection cognate refused or dropped, or a request that
  takes longer than acquire_timeout + statement_timeout + 3 s (its read
  timeout). The database's own refusals (HAProxy closing the connection
  while no server is up, PostgreSQL shutting down) are cognate's to turn
  into those 5xx; the clients never see them.

The numbers are printed (run with -s) and written to
target/failover-report.json.
"""

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import boto3
import botocore
import pytest
from botocore.config import Config

sys.path.insert(0, os.path.dirname(__file__))
import patroni_cluster  # noqa: E402
from patroni_cluster import Cluster, free_port, http_status, tail, wait_for  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("COGNATE_BIN", os.path.join(ROOT, "target", "debug", "cognate"))
REPORT = os.path.join(ROOT, "target", "failover-report.json")

ADMIN_KEY = "AKIAFAILOVERTESTADM1"
ADMIN_SECRET = "failover/test/secret/000000000000000000000"
MASTER_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
DEV = "login.failover"

# The [database] settings the nodes run with (the defaults, written out).
STATEMENT_TIMEOUT_MS = 5000
LOCK_TIMEOUT_MS = 2000
ACQUIRE_TIMEOUT_MS = 2000
# No request may take longer: beyond this a client read times out (a hang).
REQUEST_BOUND = (ACQUIRE_TIMEOUT_MS + STATEMENT_TIMEOUT_MS) / 1000 + 3
# Seconds from the new primary accepting writes to a node's first success:
# the target is 5; the assertion is generous so that a slow CI machine does
# not fail it, and the real numbers are reported.
RECOVERY_TARGET = 5
RECOVERY_BOUND = 15

RETRYABLE = {"InternalErrorException", "ServiceUnavailable"}

NODE_CONFIG = f"""\
[limits]
public_per_address_per_second = 0
guests_per_address_per_minute = 0
guests_per_pool_per_second = 0

[database]
statement_timeout_ms = {STATEMENT_TIMEOUT_MS}
lock_timeout_ms = {LOCK_TIMEOUT_MS}
acquire_timeout_ms = {ACQUIRE_TIMEOUT_MS}
"""

missing = patroni_cluster.tools_missing()
if missing:
    message = f"the failover test needs {', '.join(missing)} (apt-get install patroni etcd-server haproxy postgresql)"
    if os.environ.get("COGNATE_TEST_REQUIRE_FAILOVER") == "1":
        raise RuntimeError("COGNATE_TEST_REQUIRE_FAILOVER=1, but " + message)
    pytest.skip(message, allow_module_level=True)


# --- cognate nodes ------------------------------------------------------------


class CognateNode:
    def __init__(self, name, database_url, workdir):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        config = os.path.join(self.dir, "cognate.toml")
        with open(config, "w") as f:
            f.write(NODE_CONFIG)
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(self.dir, "cognate.log")
        env = dict(
            os.environ,
            COGNATE_LISTEN=f"127.0.0.1:{self.port}",
            COGNATE_DATA_DIR=os.path.join(self.dir, "data"),
            COGNATE_DATABASE_URL=database_url,
            COGNATE_MASTER_KEY=MASTER_KEY,
            COGNATE_ADMIN_ACCESS_KEY_ID=ADMIN_KEY,
            COGNATE_ADMIN_SECRET_ACCESS_KEY=ADMIN_SECRET,
            COGNATE_LOG=os.environ.get("COGNATE_FAILOVER_LOG", "info"),
            NO_COLOR="1",
        )
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [BIN, "serve", "--config", config],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, timeout=60):
        def ready():
            assert self.proc.poll() is None, f"{self.name} exited:\n{tail(self.log)}"
            return http_status(self.endpoint + "/readyz", timeout=2) == 200

        wait_for(f"{self.name} to be ready", ready, timeout, 0.1)

    def client(self, service, signed=True, read_timeout=REQUEST_BOUND):
        config = Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=2,
            read_timeout=read_timeout,
            **({} if signed else {"signature_version": botocore.UNSIGNED}),
        )
        keys = {"aws_access_key_id": ADMIN_KEY, "aws_secret_access_key": ADMIN_SECRET}
        return boto3.client(service, region_name="us-east-1", endpoint_url=self.endpoint, config=config, **keys)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


# --- the workload -------------------------------------------------------------


def classify(exc):
    """('retryable' | 'bad', a short description) of a failed call."""
    if isinstance(exc, botocore.exceptions.ClientError):
        r = exc.response
        meta = r.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode")
        code = r.get("Error", {}).get("Code")
        headers = meta.get("HTTPHeaders", {})
        shaped = headers.get("x-amzn-errortype", "").split(":")[0] == code and "x-amzn-requestid" in headers
        if status and status >= 500 and shaped and code in RETRYABLE:
            return "retryable", f"{status} {code}"
        return "bad", f"{status} {code}: {r.get('Error', {}).get('Message')!r} headers={headers}"
    if isinstance(exc, botocore.exceptions.ReadTimeoutError):
        return "bad", f"no answer within {REQUEST_BOUND} s (a hang)"
    return "bad", f"{type(exc).__name__}: {exc}"


class Workload:
    """Guest and developer-identity traffic on every node, in threads."""

    def __init__(self, nodes, pool_id):
        self.nodes = nodes
        self.pool_id = pool_id
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.calls = []  # (node, op, start, end, ok, kind, detail)
        self.guests = []  # identity ids GetId returned
        self.developers = {}  # developer user id -> identity id returned
        self.merges = []  # (source user, destination identity) answered 200
        self.unanswered_merges = []  # (source user, source identity, destination identity)
        self.wrong_answers = []  # (operation, expected, answered)
        self.threads = [
            threading.Thread(target=fn, args=(node,), daemon=True)
            for node in nodes
            for fn in (self._guests, self._developers)
        ]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(REQUEST_BOUND + 5)
            assert not t.is_alive(), "a workload thread did not finish"

    def _call(self, node, op, fn, **kwargs):
        start = time.monotonic()
        try:
            got = fn(**kwargs)
        except Exception as e:  # noqa: BLE001 - every failure is classified
            end = time.monotonic()
            kind, detail = classify(e)
            with self.lock:
                self.calls.append((node.name, op, start, end, False, kind, detail))
            return None
        end = time.monotonic()
        with self.lock:
            self.calls.append((node.name, op, start, end, True, "ok", ""))
        return got

    def _guests(self, node):
        public = node.client("cognito-identity", signed=False)
        while not self.stop_event.is_set():
            got = self._call(node, "GetId", public.get_id, IdentityPoolId=self.pool_id)
            if got:
                with self.lock:
                    self.guests.append(got["IdentityId"])
                self._call(
                    node, "GetCredentialsForIdentity", public.get_credentials_for_identity, IdentityId=got["IdentityId"]
                )
            time.sleep(0.02)

    def _developers(self, node):
        admin = node.client("cognito-identity")
        while not self.stop_event.is_set():
            ids = {}
            for user in (f"dst-{uuid.uuid4().hex[:12]}", f"src-{uuid.uuid4().hex[:12]}"):
                got = self._call(
                    node,
                    "GetOpenIdTokenForDeveloperIdentity",
                    admin.get_open_id_token_for_developer_identity,
                    IdentityPoolId=self.pool_id,
                    Logins={DEV: user},
                )
                if got:
                    ids[user] = got["IdentityId"]
                    with self.lock:
                        self.developers[user] = got["IdentityId"]
            if len(ids) == 2:
                (dst, dst_id), (src, src_id) = ids.items()
                merged = self._call(
                    node,
                    "MergeDeveloperIdentities",
                    admin.merge_developer_identities,
                    IdentityPoolId=self.pool_id,
                    DeveloperProviderName=DEV,
                    SourceUserIdentifier=src,
                    DestinationUserIdentifier=dst,
                )
                with self.lock:
                    if merged and merged["IdentityId"] != dst_id:
                        self.wrong_answers.append(("MergeDeveloperIdentities", dst_id, merged["IdentityId"]))
                    elif merged:
                        self.merges.append((src, dst_id))
                    else:
                        self.unanswered_merges.append((src, src_id, dst_id))
            time.sleep(0.02)

    def successes(self, node_name, since=None):
        with self.lock:
            return [c for c in self.calls if c[0] == node_name and c[4] and (since is None or c[3] >= since)]


class ReadinessWatch:
    """Polls /readyz of every node; records each answer's time and status."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.seen = {n.name: [] for n in nodes}  # (time, status or None, seconds taken)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_event.is_set():
            for n in self.nodes:
                start = time.monotonic()
                status = http_status(n.endpoint + "/readyz", timeout=5)
                end = time.monotonic()
                self.seen[n.name].append((end, status, end - start))
            time.sleep(0.1)

    def stop(self):
        self.stop_event.set()
        self.thread.join(15)


# --- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def deployment():
    """The Patroni cluster, HAProxy and two cognate nodes; a pool with a
    developer provider and a role for guests. Everything is killed after,
    whatever happened."""
    cluster = Cluster()
    workdir = tempfile.mkdtemp(prefix="cognate-failover-nodes-")
    nodes = []
    try:
        started = time.monotonic()
        cluster.start()
        assert cluster.psql_port(cluster.haproxy_port, "CREATE DATABASE cognate") is not None
        assert cluster.psql_port(cluster.haproxy_port, "CREATE TABLE failover_probe (at timestamptz)") is not None
        url = cluster.database_url("cognate")
        nodes = [CognateNode("node-a", url, workdir), CognateNode("node-b", url, workdir)]
        for n in nodes:
            n.wait_ready()
        admin = nodes[0].client("cognito-identity")
        pool_id = admin.create_identity_pool(
            IdentityPoolName="failover", AllowUnauthenticatedIdentities=True, DeveloperProviderName=DEV
        )["IdentityPoolId"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id}},
                }
            ],
        }
        role = nodes[1].client("iam").create_role(RoleName="Failover", AssumeRolePolicyDocument=json.dumps(trust))
        arn = role["Role"]["Arn"]
        admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"unauthenticated": arn, "authenticated": arn})
        print(f"\nfailover: the cluster and two cognate nodes were ready in {time.monotonic() - started:.1f} s")
        yield cluster, nodes, pool_id
    except BaseException:
        print(cluster.logs())
        for n in nodes:
            print(f"--- {n.name}\n{tail(n.log)}")
        raise
    finally:
        for n in nodes:
            n.stop()
        keep = os.environ.get("COGNATE_FAILOVER_KEEP") == "1"
        cluster.stop(keep_files=keep)
        if keep:
            print(f"failover: kept the logs in {cluster.dir} and {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# --- one round ----------------------------------------------------------------


def probe_writes(cluster, node, timeout=60):
    """The time an INSERT straight into `node`'s PostgreSQL first commits
    (without a synchronous-replication warning): when it accepts writes."""

    def writable():
        start = time.monotonic()
        if cluster.psql_port(node.pg_port, "INSERT INTO failover_probe VALUES (now())", timeout=3) is not None:
            return start
        return None

    return wait_for(f"{node.name} to accept writes", writable, timeout, 0.02)


def verify_acknowledged(cluster, nodes, workload, pool_id):
    """Every acknowledged write is there, through both nodes and on the primary."""
    readers = [n.client("cognito-identity", read_timeout=30) for n in nodes]
    missing = []
    for i, identity in enumerate(workload.guests):
        try:
            got = readers[i % 2].describe_identity(IdentityId=identity)
            assert got["IdentityId"] == identity
        except botocore.exceptions.ClientError as e:
            missing.append((identity, e.response["Error"]))
    assert not missing, f"acknowledged guests missing: {missing[:5]} ({len(missing)} in all)"

    if workload.guests:
        ids = ",".join(f"'{g}'" for g in workload.guests)
        count = cluster.psql_port(
            cluster.haproxy_port, f"SELECT count(*) FROM identities WHERE id IN ({ids})", database="cognate"
        )
        assert count == str(len(workload.guests)), (count, len(workload.guests))

    merged_sources = {src: dst for src, dst in workload.merges}
    maybe_merged = {src: (src_id, dst_id) for src, src_id, dst_id in workload.unanswered_merges}
    wrong = []
    for i, (user, identity) in enumerate(sorted(workload.developers.items())):
        reader = readers[i % 2]
        try:
            found = reader.lookup_developer_identity(
                IdentityPoolId=pool_id, DeveloperUserIdentifier=user, MaxResults=10
            )["IdentityId"]
        except botocore.exceptions.ClientError as e:
            wrong.append((user, identity, e.response["Error"]))
            continue
        if user in merged_sources:
            expected = {merged_sources[user]}
        elif user in maybe_merged:
            expected = set(maybe_merged[user])  # the merge may have committed before its answer was lost
        else:
            expected = {identity}
        if found not in expected:
            wrong.append((user, identity, found))
    assert not wrong, f"acknowledged developer identities or merges not found: {wrong[:5]} ({len(wrong)} in all)"


def summary(report):
    """A few lines for the test output (the whole report goes to REPORT)."""
    acked = report["acknowledged"]
    lines = [
        f"\nfailover {report['round']}: {report['old_leader']} -> {report['new_leader']}, "
        f"writable {report['kill_to_writable_s']} s after the kill; {report['requests']} requests, "
        f"the slowest {report['max_request_s']} s; acknowledged {acked['guests']} guests, "
        f"{acked['developer_user_ids']} developer user ids, {acked['merges']} merges"
    ]
    for name, n in report["nodes"].items():
        errors = ", ".join(f"{count} x {what}" for what, count in n["errors"].items()) or "none"
        lines.append(
            f"  {name}: first success {n['first_success_after_writable_s']} s after the new primary took writes; "
            f"failed requests: {errors}; /readyz 503 x {n['readyz_503s']}, "
            f"200 again {n['readyz_200_after_writable_s']} s after"
        )
    return "\n".join(lines)


def run_round(cluster, nodes, pool_id, name, kill):
    leader = cluster.wait_healthy()
    successor = cluster.other(leader)
    workload = Workload(nodes, pool_id)
    readiness = ReadinessWatch(nodes)
    workload.start()
    try:
        wait_for(
            "traffic on both nodes", lambda: all(len(workload.successes(n.name)) >= 20 for n in nodes), 30, 0.05
        )
        killed_at = time.monotonic()
        kill(leader)
        writable_at = probe_writes(cluster, successor)

        def recovered():
            return all(len(workload.successes(n.name, since=writable_at)) >= 10 for n in nodes)

        try:
            wait_for("both cognate nodes to serve again", recovered, RECOVERY_BOUND + 15, 0.05)
        except TimeoutError:
            pass  # reported and asserted below
    finally:
        workload.stop()
        readiness.stop()

    calls = workload.calls
    report = {
        "round": name,
        "old_leader": leader.name,
        "new_leader": successor.name,
        "kill_to_writable_s": round(writable_at - killed_at, 2),
        "requests": len(calls),
        "acknowledged": {
            "guests": len(workload.guests),
            "developer_user_ids": len(workload.developers),
            "merges": len(workload.merges),
        },
        "max_request_s": round(max(c[3] - c[2] for c in calls), 2),
        "nodes": {},
    }
    bad = []
    for n in nodes:
        mine = [c for c in calls if c[0] == n.name]
        after = [c for c in mine if c[4] and c[3] >= writable_at]
        first = min((c[3] for c in after), default=None)
        failures = [c for c in mine if not c[4]]
        bad += [c for c in failures if c[5] == "bad"]
        ready = [(t, s) for t, s, _ in readiness.seen[n.name]]
        not_ready = [t for t, s in ready if s != 200 and t >= killed_at]
        ready_again = min((t for t, s in ready if s == 200 and t >= writable_at), default=None)
        report["nodes"][n.name] = {
            "first_success_after_writable_s": None if first is None else round(first - writable_at, 2),
            "failed_requests": len(failures),
            "errors": dict(collections.Counter(c[6] for c in failures)),
            "gap_s": None
            if not failures or first is None
            else round(first - min(c[3] for c in failures if c[3] >= killed_at), 2),
            "readyz_503s": len(not_ready),
            "readyz_200_after_writable_s": None if ready_again is None else round(ready_again - writable_at, 2),
            "readyz_slowest_s": round(max(d for _, _, d in readiness.seen[n.name]), 2),
            # What this node's clients saw from the kill to its recovery:
            # (op, started and ended in seconds after the kill, outcome).
            "timeline": [
                (c[1], round(c[2] - killed_at, 2), round(c[3] - killed_at, 2), c[6] or "ok")
                for c in sorted(mine, key=lambda c: c[2])
                if c[3] >= killed_at and (first is None or c[2] <= first)
            ],
        }
    print(summary(report))

    assert not workload.wrong_answers, workload.wrong_answers
    assert not bad, f"{name}: errors that are not retryable in the protocol's shape: {bad[:5]}"
    assert report["max_request_s"] <= REQUEST_BOUND, report
    for n in nodes:
        first = report["nodes"][n.name]["first_success_after_writable_s"]
        assert first is not None, f"{name}: {n.name} never served again:\n{tail(n.log)}"
        assert first <= RECOVERY_BOUND, report
        assert report["nodes"][n.name]["readyz_slowest_s"] <= 1.5, report
    verify_acknowledged(cluster, nodes, workload, pool_id)
    return report


def test_failover_keeps_acknowledged_writes_and_nodes_recover(deployment):
    cluster, nodes, pool_id = deployment
    started = time.monotonic()
    reports = []
    try:
        reports.append(
            run_round(cluster, nodes, pool_id, "round 1 (kill -9 the postmaster)", lambda n: n.kill_postmaster())
        )
        # The old leader rejoins (pg_rewind if needed) as the synchronous
        # standby, so there is someone to fail over to again.
        reports.append(
            run_round(
                cluster,
                nodes,
                pool_id,
                "round 2 (kill -9 Patroni and PostgreSQL)",
                lambda n: n.kill_patroni_and_postgres(),
            )
        )
    finally:
        os.makedirs(os.path.dirname(REPORT), exist_ok=True)
        with open(REPORT, "w") as f:
            json.dump({"rounds": reports, "test_s": round(time.monotonic() - started, 1)}, f, indent=2)
    print(f"\nfailover: both rounds in {time.monotonic() - started:.1f} s; the report is in {REPORT}")
