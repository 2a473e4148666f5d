"""A throwaway Patroni cluster for the failover test: one etcd member, two
Patroni nodes (each its own PostgreSQL data directory and ports), HAProxy in
front routing to whichever node Patroni's REST API calls the primary, and
cognate nodes reaching the database through HAProxy.

Everything listens on 127.0.0.1, lives under one temporary directory and is
started in its own process group (PostgreSQL in the session its postmaster
makes), so `Cluster.stop` can kill all of it whatever state a test left it
in. As root, Patroni (and so PostgreSQL, which refuses to run as root) runs
as the `postgres` user through `setpriv`, which execs: the pid we hold is
Patroni's own, so `kill -9` of it is exactly that.

The Patroni timings are short so that a failover completes in seconds (see
the README, "Running several nodes"):

    ttl 10 s, loop_wait 1 s, retry_timeout 4 s  (ttl >= loop_wait + 2 * retry_timeout)
    primary_start_timeout 0: a crashed primary fails over at once
    synchronous_mode: true, fsync and synchronous_commit on
"""

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

SCOPE = "cognate-failover"
PG_USER = "postgres"

# The Patroni timings (bootstrap.dcs), also quoted in the README.
TTL = 10
LOOP_WAIT = 1
RETRY_TIMEOUT = 4


def tools_missing():
    """The programs the failover test needs that are not installed."""
    missing = [t for t in ("patroni", "patronictl", "etcd", "haproxy") if shutil.which(t) is None]
    if pg_bin() is None:
        missing.append("PostgreSQL (/usr/lib/postgresql/*/bin)")
    return missing


def pg_bin():
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: [int(p) if p.isdigit() else p for p in d.split("/")],
    )
    dirs = [d for d in dirs if os.path.exists(os.path.join(d, "initdb"))]
    return dirs[-1] if dirs else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url, timeout=1.0):
    """The status of GET `url`, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, urllib.error.URLError):
        return None


def http_json(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            return json.loads(e.read())
        except ValueError:
            return None
    except (OSError, urllib.error.URLError, ValueError):
        return None


def wait_for(what, condition, timeout, interval=0.05):
    """Polls `condition` until it returns a true value (which is returned)."""
    deadline = time.monotonic() + timeout
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


class PatroniNode:
    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.dir = os.path.join(cluster.dir, name)
        self.data_dir = os.path.join(self.dir, "data")
        self.pg_port = free_port()
        self.rest_port = free_port()
        self.config = os.path.join(self.dir, "patroni.yml")
        self.log = os.path.join(self.dir, "patroni.log")
        self.proc = None

    @property
    def rest(self):
        return f"http://127.0.0.1:{self.rest_port}"

    def write_config(self):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        c = self.cluster
        text = f"""\
scope: {SCOPE}
name: {self.name}
restapi:
  listen: 127.0.0.1:{self.rest_port}
  connect_address: 127.0.0.1:{self.rest_port}
etcd3:
  hosts: 127.0.0.1:{c.etcd_port}
bootstrap:
  dcs:
    ttl: {TTL}
    loop_wait: {LOOP_WAIT}
    retry_timeout: {RETRY_TIMEOUT}
    primary_start_timeout: 0
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        fsync: 'on'
        synchronous_commit: 'on'
        full_page_writes: 'on'
        wal_log_hints: 'on'
        max_connections: 100
        max_wal_senders: 5
        max_replication_slots: 5
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - auth: trust
postgresql:
  listen: 127.0.0.1:{self.pg_port}
  connect_address: 127.0.0.1:{self.pg_port}
  data_dir: {self.data_dir}
  bin_dir: {c.pg_bin}
  pgpass: {self.dir}/pgpass
  authentication:
    superuser:
      username: {PG_USER}
      password: failover-test
    replication:
      username: replicator
      password: failover-test
  parameters:
    unix_socket_directories: '{self.dir}'
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication replicator 127.0.0.1/32 trust
tags:
  nofailover: false
  noloadbalance: false
"""
        with open(self.config, "w") as f:
            f.write(text)

    def start(self):
        log = open(self.log, "ab")
        env = dict(os.environ, HOME=self.dir, PATH=os.environ.get("PATH", "/usr/bin:/bin"))
        self.proc = subprocess.Popen(
            self.cluster.as_pg_user + ["patroni", self.config],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.dir,
            env=env,
            start_new_session=True,
        )
        log.close()

    def patroni_state(self):
        """Patroni's own view (GET /patroni), or None."""
        return http_json(self.rest + "/patroni")

    def says(self, endpoint):
        """Whether GET /<endpoint> answers 200 (primary, replica, sync, health...)."""
        return http_status(f"{self.rest}/{endpoint}") == 200

    def postmaster_pid(self):
        """The pid in postmaster.pid, if that process is a postgres of this data dir."""
        try:
            with open(os.path.join(self.data_dir, "postmaster.pid")) as f:
                pid = int(f.readline().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            return None
        return pid if "postgres" in cmdline else None

    def kill_postmaster(self):
        pid = self.postmaster_pid()
        assert pid, f"{self.name}: no running postmaster"
        os.kill(pid, signal.SIGKILL)
        return pid

    def postgres_pids(self):
        """Every postgres process of this node (postmaster, its children, and
        children a killed postmaster left behind): PostgreSQL's processes
        run in the data directory, and each child is a session of its own,
        so neither the parent nor the process group finds them all."""
        data = os.path.realpath(self.data_dir)
        found = []
        for cwd in glob.glob("/proc/[0-9]*/cwd"):
            pid = int(cwd.split("/")[2])
            try:
                here = os.readlink(cwd)
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if comm == "postgres" and (here == data or here == data + " (deleted)"):
                found.append(pid)
        return found

    def kill_patroni_and_postgres(self):
        """kill -9 Patroni and all of its PostgreSQL at once."""
        assert self.proc and self.proc.poll() is None
        pids = self.postgres_pids()
        assert self.postmaster_pid() in pids
        os.kill(self.proc.pid, signal.SIGKILL)
        for pid in pids:
            kill9(pid)
        self.proc.wait()

    def stop(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        for _ in range(3):
            pids = self.postgres_pids()
            if not pids:
                break
            for pid in pids:
                kill9(pid)
            time.sleep(0.1)


def kill9(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Cluster:
    """etcd + two Patroni nodes + HAProxy, under one temporary directory."""

    def __init__(self):
        self.pg_bin = pg_bin()
        base = tempfile.mkdtemp(prefix="cognate-failover-")
        os.chmod(base, 0o755)
        self.dir = base
        self.root = os.geteuid() == 0
        if self.root:
            self.as_pg_user = ["setpriv", f"--reuid={PG_USER}", f"--regid={PG_USER}", "--init-groups", "--"]
        else:
            self.as_pg_user = []
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self.haproxy_port = free_port()
        self.etcd = None
        self.haproxy = None
        self.nodes = [PatroniNode(self, "pg1"), PatroniNode(self, "pg2")]
        self.procs = []

    # --- starting ---------------------------------------------------------

    def start(self):
        self._start_etcd()
        for node in self.nodes:
            node.write_config()
        if self.root:
            pw = pwd.getpwnam(PG_USER)
            for node in self.nodes:
                for path in (node.dir, node.config):
                    os.chown(path, pw.pw_uid, pw.pw_gid)
        self.nodes[0].start()
        wait_for("pg1 to bootstrap as the leader", lambda: self.nodes[0].says("primary"), 90, 0.1)
        self.nodes[1].start()
        self._start_haproxy()
        self.wait_healthy()

    def _start_etcd(self):
        data = os.path.join(self.dir, "etcd")
        log = open(os.path.join(self.dir, "etcd.log"), "ab")
        self.etcd = subprocess.Popen(
            [
                "etcd",
                "--name=e1",
                f"--data-dir={data}",
                f"--listen-client-urls=http://127.0.0.1:{self.etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{self.etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{self.etcd_peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{self.etcd_peer_port}",
                f"--initial-cluster=e1=http://127.0.0.1:{self.etcd_peer_port}",
                "--initial-cluster-state=new",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        wait_for("etcd", lambda: http_status(f"http://127.0.0.1:{self.etcd_port}/health") == 200, 30)

    def haproxy_config(self):
        servers = "\n".join(
            f"    server {n.name} 127.0.0.1:{n.pg_port} maxconn 100 check port {n.rest_port}" for n in self.nodes
        )
        return f"""\
global
    maxconn 200

defaults
    mode tcp
    retries 2
    option redispatch 1
    timeout connect 250ms
    timeout client 30m
    timeout server 30m
    timeout check 1s

listen postgres
    bind 127.0.0.1:{self.haproxy_port}
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 250ms fastinter 250ms downinter 250ms rise 2 fall 2 on-marked-down shutdown-sessions
{servers}
"""

    def _start_haproxy(self):
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(self.haproxy_config())
        log = open(os.path.join(self.dir, "haproxy.log"), "ab")
        self.haproxy = subprocess.Popen(
            ["haproxy", "-db", "-f", path],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    # --- the cluster's state ----------------------------------------------

    def leader(self):
        """The node whose REST API says primary (200 on /primary), if exactly one."""
        primaries = [n for n in self.nodes if n.says("primary")]
        return primaries[0] if len(primaries) == 1 else None

    def other(self, node):
        return next(n for n in self.nodes if n is not node)

    def wait_healthy(self, timeout=120):
        """One primary, the other a streaming synchronous standby, and
        HAProxy routing writes to the primary."""

        def healthy():
            leader = self.leader()
            if leader is None:
                return None
            replica = self.other(leader)
            if not (replica.says("replica") and replica.says("sync")):
                return None
            if self.psql_port(self.haproxy_port, "SELECT NOT pg_is_in_recovery()") != "t":
                return None
            return leader

        return wait_for("a healthy primary with a synchronous standby", healthy, timeout, 0.2)

    def psql_port(self, port, sql, database="postgres", timeout=5):
        """The output of `sql` on 127.0.0.1:`port` (tuples only), or None on failure."""
        try:
            out = subprocess.run(
                [
                    os.path.join(self.pg_bin, "psql"),
                    "-X",
                    "-q",
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    PG_USER,
                    "-d",
                    database,
                    "-c",
                    sql,
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=dict(os.environ, PGCONNECT_TIMEOUT="2", PGOPTIONS="-c statement_timeout=2000"),
            )
        except subprocess.TimeoutExpired:
            return None
        if out.returncode != 0 or "WARNING" in out.stderr:
            return None
        return out.stdout.strip()

    def database_url(self, database):
        return f"postgres://{PG_USER}@127.0.0.1:{self.haproxy_port}/{database}"

    def logs(self):
        parts = [f"--- etcd\n{tail(os.path.join(self.dir, 'etcd.log'), 15)}"]
        for n in self.nodes:
            parts.append(f"--- {n.name} (patroni and postgres)\n{tail(n.log, 40)}")
        parts.append(f"--- haproxy\n{tail(os.path.join(self.dir, 'haproxy.log'), 20)}")
        return "\n".join(parts)

    # --- stopping -----------------------------------------------------------

    def stop(self, keep_files=False):
        for node in self.nodes:
            node.stop()
        for proc in (self.haproxy, self.etcd):
            if proc is not None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        if not keep_files:
            shutil.rmtree(self.dir, ignore_errors=True)
