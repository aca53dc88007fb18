#!/usr/bin/env python3
"""Load benchmark of the special-treatment paths; run it through bench/run.sh.

For each database (SQLite, PostgreSQL) and each customer count it: creates a fresh database,
starts the release binary on a free loopback port, registers the customers and sets their
3-value treatments through the API (above --api-seed-max customers, the rest are bulk-inserted
with SQL into the same schema first, see --help), then drives wrk (bench/load.lua) on random
customers with a valid token:

  get      GET special treatment, closed loop, 64 connections
  put      PUT special treatment (3 values)
  mix      90% GET / 10% PUT
  get@70%  GET at 70% of the measured GET peak (think time between requests), for p99
  categories  GET a customer's categories (issue 14), closed loop, 64 connections

With the categories scenario the seeding also creates a catalogue of CATEGORIES (PUT through the
API) and files each customer under 1-3 of them (through the API up to --api-seed-max; the
bulk-inserted ones get theirs with SQL too, shaped like the API's rows).

With --accounts N[,M...] it benchmarks the external accounts instead (issue 15): per count, a
fresh database gets N/10 customers and 10 accounts each, bulk-inserted with SQL into the
migrated schema, and wrk drives

  accounts-list    GET a random customer's accounts (one page of 10: the (customer_id, id) walk)
  accounts-lookup  GET /accounts?external_id= a random reference (the (org_id, external_id) probe)

so that 10k against 1M accounts shows whether both stay flat.

  verify-storm  --storm-readers connections reading special treatment (closed loop), first
           alone, then while 64 connections verify credentials continuously (right secrets:
           one Argon2id hash each, bench/verify.lua); reports verifications/s and their p99,
           the GET throughput and p99 beside the GET-only run, and the server's peak RSS

and prints requests/s, p50/p90/p99 latency, non-2xx answers (from wrk and from the server's
own /metrics counters), server CPU per request (and PostgreSQL backends' CPU per request) and
the server's peak RSS. Only loopback addresses are used; every run is bounded in time.
Standard library only.

With --servers ours,reference, the same scenarios then run, on the same database and with the
same token and ids, against bench/reference (a deliberately minimal server doing the same work:
HS256 check, one prepared statement per request, no ORM), after our server has stopped; a
"reference vs ours" table gives the ratio ours / reference of each measure (issue #6).

PostgreSQL is reached as the --postgres-url says; without an `sslmode` in it, sqlx's and
tokio-postgres' default, `prefer`, is TLS whenever the server offers it (the production case), for
both servers. --plain adds sslmode=disable instead. Each report says how many of each server's
PostgreSQL connections were encrypted (pg_stat_ssl).
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import queue
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORG = "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TREATMENT = ["vulnerable", "vip", "no-marketing"]
# The catalogue of the categories scenario; each seeded customer belongs to 1-3 of them.
CATEGORIES = ["corporate", "premium", "private-banking", "retail", "senior", "sme", "staff",
              "student"]


def customer_categories(n):
    """The 1-3 categories of the n-th customer seeded through the API (varied, deterministic)."""
    count = 1 + n % 3
    start = (n // 3) % len(CATEGORIES)
    return [CATEGORIES[(start + i) % len(CATEGORIES)] for i in range(count)]


def category_rows_sql():
    """`(i, key)` rows of CATEGORIES, for the bulk membership inserts."""
    return ", ".join(f"({i}, '{key}')" for i, key in enumerate(CATEGORIES))


# External accounts as bulk-inserted: the IBAN standard's example number (nobody's).
ACCOUNT_COLUMNS = ("id, org_id, customer_id, external_id, scheme, identification, "
                   "identification_masked, currency, kind, holder_type, nickname, status, "
                   "created_at, updated_at")
ACCOUNT_VALUES = ("'iban', 'GB82WEST12345698765432', '****5432', 'GBP', 'current', "
                  "'individual', NULL, 'active'")
ACCOUNTS_PER_CUSTOMER = 10


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- process measurements

def proc_cpu_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss(pid):
    """Resets VmHWM to the current RSS (Linux >= 4.0), so each phase gets its own peak."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- databases

class SqliteDb:
    kind = "sqlite"

    def __init__(self, workdir):
        self.path = os.path.join(workdir, "customers.sqlite")
        self.url = f"sqlite://{self.path}?mode=rwc"

    def bulk_insert(self, count, categories=False):
        """Rows shaped exactly like the API's (BLOB uuid, JSON text, sqlx timestamps). With
        `categories`, also the catalogue and each customer's 1-3 memberships, picked from the
        first bytes of its random id (the first: how many, the second: from which category)."""
        con = sqlite3.connect(self.path)
        con.execute("PRAGMA synchronous=OFF")  # seeding only; the server keeps FULL
        con.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO customers
              (id, org_id, external_id, display_name, special_treatment, created_at, updated_at)
            SELECT randomblob(16), ?, printf('bulk-%07d', i), printf('Bulk customer %d', i),
                   ?, ts, ts
            FROM n, (SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now') || '+00:00' AS ts)
            """,
            (count, ORG, json.dumps(TREATMENT, separators=(",", ":"))),
        )
        if categories:
            con.executemany(
                """
                INSERT INTO categories (org_id, key, name, description, created_at, updated_at)
                SELECT ?, ?, ?, NULL, ts, ts
                FROM (SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now') || '+00:00' AS ts)
                """,
                [(ORG, key, key.replace("-", " ").capitalize()) for key in CATEGORIES],
            )
            byte = "(instr('0123456789ABCDEF', substr(hex(c.id), {0}, 1)) - 1) * 16 + " \
                   "instr('0123456789ABCDEF', substr(hex(c.id), {1}, 1)) - 1"
            con.execute(
                f"""
                WITH k(i, key) AS (VALUES {category_rows_sql()})
                INSERT INTO customer_categories (customer_id, category_key, org_id)
                SELECT c.id, k.key, c.org_id FROM customers c JOIN k
                  ON (k.i - ({byte.format(3, 4)}) % {len(CATEGORIES)} + {len(CATEGORIES)})
                     % {len(CATEGORIES)} < 1 + ({byte.format(1, 2)}) % 3
                WHERE c.org_id = ?
                """,
                (ORG,),
            )
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()

    def bulk_insert_accounts(self, per_customer):
        """`per_customer` accounts for every customer, referenced acct-0000001 onwards."""
        con = sqlite3.connect(self.path)
        con.execute("PRAGMA synchronous=OFF")
        con.execute(
            f"""
            WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < ?)
            INSERT INTO external_accounts
              ({ACCOUNT_COLUMNS})
            SELECT randomblob(16), c.org_id, c.id,
                   printf('acct-%07d', (c.rowid - 1) * ? + j + 1), {ACCOUNT_VALUES},
                   c.created_at, c.created_at
            FROM customers c, k
            """,
            (per_customer - 1, per_customer),
        )
        con.commit()
        con.execute("ANALYZE")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()

    def all_ids(self):
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        ids = [uuid_text(row[0]) for row in con.execute("SELECT id FROM customers")]
        con.close()
        return ids

    def backend_pids(self):
        return []

    def size_bytes(self):
        return sum(
            os.path.getsize(self.path + suffix)
            for suffix in ("", "-wal")
            if os.path.exists(self.path + suffix)
        )

    def drop(self):
        pass


def uuid_text(raw):
    h = raw.hex() if isinstance(raw, bytes) else str(raw).replace("-", "")
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class PostgresDb:
    kind = "postgres"

    def __init__(self, admin_url, name, plain=False):
        self.admin_url = admin_url
        self.name = name
        parts = urllib.parse.urlsplit(admin_url)
        # The URL's own sslmode, else the default (prefer: TLS when the server offers it, as in
        # production), else with --plain sslmode=disable.
        query = parts.query if "sslmode=" in parts.query or not plain else "&".join(
            q for q in (parts.query, "sslmode=disable") if q)
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + name, query=query))
        self.psql(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql(self.admin_url, f'CREATE DATABASE "{name}"')

    @staticmethod
    def psql(url, sql):
        out = subprocess.run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
            check=True, capture_output=True, text=True,
        )
        return out.stdout

    def bulk_insert(self, count, categories=False):
        self.psql(
            self.url,
            f"""
            INSERT INTO customers
              (id, org_id, external_id, display_name, special_treatment, created_at, updated_at)
            SELECT gen_random_uuid(), '{ORG}', 'bulk-' || lpad(g::text, 7, '0'),
                   'Bulk customer ' || g, '{json.dumps(TREATMENT)}'::jsonb, now(), now()
            FROM generate_series(1, {int(count)}) AS g
            """,
        )
        self.psql(self.url, "VACUUM ANALYZE customers")
        if categories:
            # As SqliteDb.bulk_insert: 1-3 categories by the first two bytes of the id.
            values = ", ".join(f"('{ORG}', '{key}', '{key.replace('-', ' ').capitalize()}', "
                               "NULL, now(), now())" for key in CATEGORIES)
            n = len(CATEGORIES)
            self.psql(self.url, f"""
                INSERT INTO categories (org_id, key, name, description, created_at, updated_at)
                VALUES {values}""")
            self.psql(self.url, f"""
                INSERT INTO customer_categories (customer_id, category_key, org_id)
                SELECT c.id, k.key, c.org_id
                FROM customers c JOIN (VALUES {category_rows_sql()}) AS k(i, key)
                  ON (k.i - get_byte(uuid_send(c.id), 1) % {n} + {n}) % {n}
                     < 1 + get_byte(uuid_send(c.id), 0) % 3
                WHERE c.org_id = '{ORG}'""")
            self.psql(self.url, "VACUUM ANALYZE categories, customer_categories")

    def bulk_insert_accounts(self, per_customer):
        self.psql(
            self.url,
            f"""
            INSERT INTO external_accounts ({ACCOUNT_COLUMNS})
            SELECT gen_random_uuid(), c.org_id, c.id,
                   'acct-' || lpad(((c.n - 1) * {int(per_customer)} + j + 1)::text, 7, '0'),
                   {ACCOUNT_VALUES}, c.created_at, c.created_at
            FROM (SELECT id, org_id, created_at, row_number() OVER () AS n FROM customers) c,
                 generate_series(0, {int(per_customer) - 1}) AS j
            """,
        )
        self.psql(self.url, "VACUUM ANALYZE external_accounts")

    def all_ids(self):
        return self.psql(self.url, "SELECT id FROM customers").split()

    def backend_pids(self):
        out = self.psql(
            self.admin_url,
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{self.name}' "
            "AND pid <> pg_backend_pid()",
        )
        return [int(p) for p in out.split()]

    def size_bytes(self):
        return int(self.psql(self.url, "SELECT pg_database_size(current_database())").strip())

    def tls_backends(self):
        """How many of the database's other connections are encrypted, and how many not."""
        out = self.psql(
            self.admin_url,
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) "
            "FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
            f"WHERE a.datname = '{self.name}' AND a.pid <> pg_backend_pid()",
        )
        tls, plain = (int(n) for n in out.strip().split("|"))
        return {"tls": tls, "plain": plain}

    def drop(self):
        try:
            self.psql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except subprocess.CalledProcessError as e:
            log(f"could not drop {self.name}: {e.stderr.strip()}")


# ---------------------------------------------------------------- the server

class Server:
    """Our server; `command` and `log_name` start another one (the reference) the same way."""

    def __init__(self, binary, db, workdir, secret, extra_env, command=None,
                 log_name="server.log"):
        self.binary = binary
        self.command = command or [binary, "serve"]
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=db.url,
            JWT_SECRET=secret,
            LISTEN_ADDR=f"127.0.0.1:{self.port}",
            JWT_SECRET_FILE=os.path.join(workdir, "jwt-secret"),
        )
        self.env.pop("RUST_LOG", None)  # the default (info): one log line per request
        self.env.update(extra_env)
        self.log_path = os.path.join(workdir, log_name)
        self.proc = None

    def start(self):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command, env=self.env, stdout=self.log_file, stderr=self.log_file
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited at start; see {self.log_path}")
            try:
                status, _ = self.get("/healthz")
                # The reference has no /healthz: any answer (its 404) means it listens.
                if status == 200 or self.command[0] != self.binary:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not answer /healthz in 60 s")

    @property
    def pid(self):
        return self.proc.pid

    def get(self, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def token(self, scope=None):
        """A bench token: the binary's default scopes, or `scope` (space-separated)."""
        extra = ["--scope", scope] if scope else []
        out = subprocess.run(
            [self.binary, "token", "--org", ORG, "--sub", "bench", "--ttl", "86400", *extra],
            env=self.env, check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    def migrate(self):
        subprocess.run([self.binary, "migrate"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def non_2xx_by_route(self):
        """Answers that were not 2xx, summed from the server's own request counter."""
        status, body = self.get("/metrics")
        if status != 200:
            return None
        total = 0
        for line in body.decode().splitlines():
            if line.startswith("customers_api_http_requests_total{"):
                m = re.search(r'status="(\d+)"', line)
                if m and not m.group(1).startswith("2") and 'route="/metrics"' not in line:
                    total += int(float(line.rsplit(" ", 1)[1]))
        return total

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and not self.log_file.closed:
            self.log_file.close()


# ---------------------------------------------------------------- seeding through the API

def seed_categories_through_api(server, token):
    """Creates (or, over bulk-inserted ones, replaces) the catalogue of CATEGORIES."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for key in CATEGORIES:
            body = json.dumps({"name": key.replace("-", " ").capitalize()})
            conn.request("PUT", f"/v1/organizations/{ORG}/categories/{key}", body, auth)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status not in (200, 201):
                raise RuntimeError(f"PUT category: {resp.status} {data[:200]!r}")
    finally:
        conn.close()


def seed_through_api(server, token, count, first_index, concurrency, categories=False):
    """Registers `count` customers and sets a 3-value treatment on each, concurrently; with
    `categories`, also files each under 1-3 of CATEGORIES (which must exist)."""
    ids = [None] * count
    work = queue.Queue()
    for i in range(count):
        work.put(i)
    failures = []
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body_put = json.dumps({"values": TREATMENT})

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            while not failures:
                try:
                    i = work.get_nowait()
                except queue.Empty:
                    return
                n = first_index + i
                body = json.dumps({"external_id": f"api-{n:07d}",
                                   "display_name": f"Customer {n}"})
                conn.request("POST", f"/v1/organizations/{ORG}/customers", body, auth)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 201:
                    failures.append(f"POST customer: {resp.status} {data[:200]!r}")
                    return
                cid = json.loads(data)["id"]
                conn.request("PUT", f"/v1/organizations/{ORG}/customers/{cid}/special-treatment",
                             body_put, auth)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 204:
                    failures.append(f"PUT treatment: {resp.status} {data[:200]!r}")
                    return
                if categories:
                    conn.request("PUT", f"/v1/organizations/{ORG}/customers/{cid}/categories",
                                 json.dumps({"keys": customer_categories(n)}), auth)
                    resp = conn.getresponse()
                    data = resp.read()
                    if resp.status != 204:
                        failures.append(f"PUT categories: {resp.status} {data[:200]!r}")
                        return
                ids[i] = cid
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"seeding failed: {failures[0]}")
    return ids


# ---------------------------------------------------------------- wrk runs

def wrk_command(args, server, seconds, script, connections=None):
    return ["wrk", "-t", str(args.threads), "-c", str(connections or args.connections),
            "-d", f"{seconds}s", "--timeout", "5s", "-s", os.path.join(HERE, script),
            f"http://127.0.0.1:{server.port}"]


def wrk_result(out_text, err_text):
    line = next((l for l in out_text.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"no BENCH_RESULT line from wrk:\n{out_text}\n{err_text}")
    return json.loads(line[len("BENCH_RESULT "):])


def run_wrk(args, server, token, ids_file, seconds, put_percent, delay_ms=0.0,
            resource="special-treatment", mode="treatment", accounts=0, connections=None):
    env = dict(os.environ)
    env.update(BENCH_IDS_FILE=ids_file, BENCH_TOKEN=token, BENCH_ORG=ORG,
               BENCH_PUT_PERCENT=str(put_percent), BENCH_DELAY_MS=f"{delay_ms:.4f}",
               BENCH_RESOURCE=resource, BENCH_MODE=mode, BENCH_ACCOUNTS=str(accounts))
    cmd = wrk_command(args, server, seconds, "load.lua", connections)
    before = os.times()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120)
    after = os.times()
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr.strip()}")
    result = wrk_result(out.stdout, out.stderr)
    result["wrk_cpu_s"] = (after.children_user - before.children_user
                           + after.children_system - before.children_system)
    return result


# ---------------------------------------------------------------- the verification storm

def seed_credentials(server, token, ids, count, path):
    """A password credential on each of the first `count` customers; writes the verify file
    ("customer credential secret" lines). The secrets are random and live only in that file."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    lines = []
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for cid in ids[:count]:
            secret = secrets.token_urlsafe(18)
            body = json.dumps({"type": "password", "secret": secret})
            conn.request("POST", f"/v1/organizations/{ORG}/customers/{cid}/credentials", body,
                         auth)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status == 409:
                raise RuntimeError("the customers already have credentials (a second storm "
                                   "on one database)")
            if resp.status != 201:
                raise RuntimeError(f"POST credential: {resp.status} {data[:200]!r}")
            lines.append(f"{cid} {json.loads(data)['id']} {secret}")
    finally:
        conn.close()
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def verify_storm(args, server, db, token, ids_file):
    """GET special treatment alone, then beside 64 connections verifying continuously."""
    workdir = os.path.dirname(ids_file)
    with open(ids_file) as f:
        ids = [line.strip() for line in f if line.strip()]
    verify_file = os.path.join(workdir, "verify.txt")
    seed_credentials(server, token, ids, min(len(ids), 256), verify_file)
    channel = server.token("credentials:verify")
    readers = args.storm_readers
    env = dict(os.environ)
    env.update(BENCH_VERIFY_FILE=verify_file, BENCH_TOKEN=channel, BENCH_ORG=ORG)

    def storm(seconds):
        return subprocess.Popen(wrk_command(args, server, seconds, "verify.lua", 64), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(proc):
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"wrk (verify) failed: {err.strip()}")
        return wrk_result(out, err)

    # Alone: GET with `readers` connections.
    if args.warmup > 0:
        run_wrk(args, server, token, ids_file, args.warmup, 0, connections=readers)
    reset_peak_rss(server.pid)
    alone = run_wrk(args, server, token, ids_file, args.duration, 0, connections=readers)
    alone_rss = proc_status_kib(server.pid, "VmHWM") / 1024
    # The storm: warm it up, then measure GET and verify over the same seconds.
    if args.warmup > 0:
        finish(storm(args.warmup))
    reset_peak_rss(server.pid)
    non2xx_before = server.non_2xx_by_route()
    cpu_before = proc_cpu_ticks(server.pid)
    verifying = storm(args.duration)
    during = run_wrk(args, server, token, ids_file, args.duration, 0, connections=readers)
    verified = finish(verifying)
    cpu_after = proc_cpu_ticks(server.pid)
    non2xx_after = server.non_2xx_by_route()
    peak = proc_status_kib(server.pid, "VmHWM") / 1024

    def rate(r):
        return r["requests"] / (r["duration_us"] / 1e6)

    row = {
        "scenario": "verify-storm",
        "readers": readers,
        "verifiers": 64,
        "get_alone_rps": rate(alone),
        "get_alone_p99_ms": alone["p99_us"] / 1000,
        "get_storm_rps": rate(during),
        "get_storm_p50_ms": during["p50_us"] / 1000,
        "get_storm_p99_ms": during["p99_us"] / 1000,
        "verify_rps": rate(verified),
        "verify_p50_ms": verified["p50_us"] / 1000,
        "verify_p99_ms": verified["p99_us"] / 1000,
        "verify_non_2xx": verified["errors_status"],
        "get_storm_non_2xx": during["errors_status"],
        "non_2xx_server": (None if non2xx_before is None or non2xx_after is None
                           else non2xx_after - non2xx_before),
        "socket_errors": sum(r[k] for r in (during, verified) for k in
                             ("errors_connect", "errors_read", "errors_write", "errors_timeout")),
        "server_cpu_cores": (cpu_after - cpu_before) / CLK_TCK / (during["duration_us"] / 1e6),
        "peak_rss_mib_alone": alone_rss,
        "peak_rss_mib": peak,
        "hashing_concurrency": len(os.sched_getaffinity(0)),
        "rss_aim_mib": 30 + 19 * len(os.sched_getaffinity(0)),
        # For the common report's columns (the GETs during the storm; CPU over all requests):
        "rps": rate(during),
        "p50_ms": during["p50_us"] / 1000,
        "p90_ms": during["p90_us"] / 1000,
        "p99_ms": during["p99_us"] / 1000,
        "server_cpu_us_per_req": (cpu_after - cpu_before) / CLK_TCK * 1e6
        / max(during["requests"] + verified["requests"], 1),
        "db_cpu_us_per_req": None,
        "non_2xx_wrk": during["errors_status"] + verified["errors_status"],
    }
    log(f"  verify-storm: GET alone {row['get_alone_rps']:.0f} req/s p99 "
        f"{row['get_alone_p99_ms']:.2f} ms; during the storm {row['get_storm_rps']:.0f} req/s "
        f"p99 {row['get_storm_p99_ms']:.2f} ms; verifications {row['verify_rps']:.1f}/s p99 "
        f"{row['verify_p99_ms']:.1f} ms, non-2xx {row['non_2xx_wrk']}/{row['non_2xx_server']}; "
        f"peak RSS {peak:.1f} MiB (aim < {row['rss_aim_mib']} MiB)")
    return row


def measured_run(args, server, db, token, ids_file, name, put_percent, delay_ms=0.0,
                 warmup=True, tag="", resource="special-treatment", mode="treatment",
                 accounts=0):
    if warmup and args.warmup > 0:
        run_wrk(args, server, token, ids_file, args.warmup, put_percent, delay_ms, resource,
                mode, accounts)
    reset_peak_rss(server.pid)
    non2xx_before = server.non_2xx_by_route()
    pids = db.backend_pids()
    db_before = {p: proc_cpu_ticks(p) for p in pids}
    perf = None
    if args.profile and name in ("get", "put"):
        perf_data = os.path.join(args.outdir, f"{db.kind}-{tag}{name}.perf.data")
        perf = subprocess.Popen(
            ["perf", "record", "-q", "-F", "400", "-e", "cpu-clock", "--call-graph",
             "dwarf,16384", "-p", str(server.pid), "-o", perf_data, "--",
             "sleep", str(max(1, args.duration - 1))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu_before = proc_cpu_ticks(server.pid)
    load_before = os.getloadavg()[0]
    r = run_wrk(args, server, token, ids_file, args.duration, put_percent, delay_ms, resource,
                mode, accounts)
    cpu_after = proc_cpu_ticks(server.pid)
    if perf is not None:
        perf.wait()
        script = subprocess.run(["perf", "script", "-i", perf_data], capture_output=True,
                                text=True).stdout
        breakdown = subprocess.run(
            [sys.executable, os.path.join(HERE, "profile_breakdown.py")], input=script,
            capture_output=True, text=True).stdout
        with open(perf_data + ".breakdown.txt", "w") as f:
            f.write(breakdown)
        print(f"--- profile of {db.kind} {tag}{name} (throughput under perf is lower)\n"
              f"{breakdown}", file=sys.stderr)
    db_after = {p: proc_cpu_ticks(p) for p in set(pids) | set(db.backend_pids())}
    non2xx_after = server.non_2xx_by_route()
    requests = max(r["requests"], 1)
    seconds = r["duration_us"] / 1e6
    db_ticks = sum(t - db_before.get(p, 0) for p, t in db_after.items())
    row = {
        "scenario": name,
        "put_percent": put_percent,
        "rps": r["requests"] / seconds,
        "requests": r["requests"],
        "p50_ms": r["p50_us"] / 1000,
        "p90_ms": r["p90_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "p999_ms": r["p999_us"] / 1000,
        "max_ms": r["lat_max_us"] / 1000,
        "non_2xx_wrk": r["errors_status"],
        "socket_errors": r["errors_connect"] + r["errors_read"] + r["errors_write"]
        + r["errors_timeout"],
        "non_2xx_server": (None if non2xx_before is None or non2xx_after is None
                           else non2xx_after - non2xx_before),
        "server_cpu_us_per_req": (cpu_after - cpu_before) / CLK_TCK * 1e6 / requests,
        "server_cpu_cores": (cpu_after - cpu_before) / CLK_TCK / seconds,
        "db_cpu_us_per_req": db_ticks / CLK_TCK * 1e6 / requests if db.kind == "postgres"
        else None,
        "wrk_cpu_us_per_req": r["wrk_cpu_s"] * 1e6 / requests,
        "peak_rss_mib": proc_status_kib(server.pid, "VmHWM") / 1024,
        "rss_mib": proc_status_kib(server.pid, "VmRSS") / 1024,
        "load_avg_before": load_before,
        "think_ms": delay_ms,
    }
    log(f"  {tag}{name:8} {row['rps']:9.0f} req/s  p50 {row['p50_ms']:.2f} ms  p99 "
        f"{row['p99_ms']:.2f} ms  non-2xx {row['non_2xx_wrk']}/{row['non_2xx_server']}  "
        f"cpu {row['server_cpu_us_per_req']:.0f} us/req  peak RSS {row['peak_rss_mib']:.1f} MiB")
    return row


def at_fraction_of_peak(args, server, db, token, ids_file, peak_rps, fraction, tag=""):
    """Think time chosen so that 64 connections offer `fraction` of the peak rate. One short
    calibration run measures the latency at that load, which the think time then leaves out."""
    target = peak_rps * fraction
    think = 1000.0 * args.connections / target
    calib = run_wrk(args, server, token, ids_file, max(args.warmup, 3), 0, think)
    achieved = calib["requests"] / (calib["duration_us"] / 1e6)
    # rate = connections / (think + latency): take the latency the calibration implies.
    latency_ms = max(0.0, 1000.0 * args.connections / max(achieved, 1) - think)
    think = max(0.05, 1000.0 * args.connections / target - latency_ms)
    row = measured_run(args, server, db, token, ids_file, f"get@{int(fraction * 100)}%", 0,
                       think, warmup=False, tag=tag)
    row["target_rps"] = target
    return row


# ---------------------------------------------------------------- one database, one size

def run_scenarios(args, server, db, token, ids_file, tag=""):
    runs = []
    get_row = None
    for name in args.scenarios.split(","):
        if name == "get":
            get_row = measured_run(args, server, db, token, ids_file, "get", 0, tag=tag)
            runs.append(get_row)
        elif name == "put":
            runs.append(measured_run(args, server, db, token, ids_file, "put", 100, tag=tag))
        elif name == "mix":
            runs.append(measured_run(args, server, db, token, ids_file, "mix", 10, tag=tag))
        elif name == "verify-storm":
            runs.append(verify_storm(args, server, db, token, ids_file))
        elif name == "get70":
            if get_row is None:
                raise SystemExit("get70 needs the get scenario before it")
            runs.append(at_fraction_of_peak(args, server, db, token, ids_file, get_row["rps"],
                                            0.7, tag=tag))
        elif name == "categories":
            runs.append(measured_run(args, server, db, token, ids_file, "categories", 0,
                                     tag=tag, resource="categories"))
        else:
            raise SystemExit(f"unknown scenario {name}")
    return runs


def bench_one(args, kind, customers, outdir, stamp):
    workdir = os.path.join(outdir, f"{kind}-{customers}")
    os.makedirs(workdir, exist_ok=True)
    if kind == "sqlite":
        db = SqliteDb(workdir)
    else:
        db = PostgresDb(args.postgres_url, f"customers_api_bench_{stamp}_{customers}",
                        plain=args.plain)
    secret = secrets.token_hex(32)
    extra_env = dict(kv.split("=", 1) for kv in args.server_env)
    server = Server(args.binary, db, workdir, secret, extra_env)
    result = {"db": kind, "customers": customers, "runs": []}
    try:
        api_count = min(customers, args.api_seed_max)
        bulk_count = customers - api_count
        categories = "categories" in args.scenarios.split(",")
        if bulk_count:
            log(f"{kind}: migrating, bulk-inserting {bulk_count} customers with SQL"
                + (" (with 1-3 categories each)" if categories else ""))
            server.migrate()
            started = time.time()
            db.bulk_insert(bulk_count, categories)
            result["bulk_seed_s"] = time.time() - started
        server.start()
        token = server.token()
        if categories:
            seed_categories_through_api(server, token)
        log(f"{kind}: server pid {server.pid} on port {server.port}; seeding {api_count} "
            f"customers with 3-value treatments"
            + (" and 1-3 categories" if categories else "") + " through the API")
        started = time.time()
        seeded = seed_through_api(server, token, api_count, 0, args.seed_concurrency,
                                  categories)
        took = time.time() - started
        per_customer = 3 if categories else 2
        result["api_seed_s"] = took
        result["api_seed_rps"] = per_customer * api_count / took
        result["seed_peak_rss_mib"] = proc_status_kib(server.pid, "VmHWM") / 1024
        log(f"{kind}: seeded in {took:.1f} s ({per_customer * api_count / took:.0f} req/s, POST + "
            + ("2 PUTs)" if categories else "PUT)"))
        ids = db.all_ids() if bulk_count else seeded
        if len(ids) != customers:
            raise RuntimeError(f"expected {customers} customers, found {len(ids)}")
        ids_file = os.path.join(workdir, "ids.txt")
        with open(ids_file, "w") as f:
            f.write("\n".join(ids) + "\n")
        result["db_size_mib"] = db.size_bytes() / 2**20
        if "ours" in args.servers:
            result["runs"] = run_scenarios(args, server, db, token, ids_file)
        if kind == "postgres":
            result["tls_backends"] = db.tls_backends()
            log(f"{kind}: our server's PostgreSQL connections: {result['tls_backends']}")
        result["peak_rss_mib"] = max(
            [result["seed_peak_rss_mib"]] + [r["peak_rss_mib"] for r in result["runs"]])
        if "reference" in args.servers:
            # Same database, token, ids and wrk settings; only one server runs at a time.
            server.stop()
            reference = Server(args.binary, db, workdir, secret, extra_env,
                               command=[args.reference_binary], log_name="reference.log")
            try:
                reference.start()
                log(f"{kind}: reference server pid {reference.pid} on port {reference.port}")
                result["reference_runs"] = run_scenarios(args, reference, db, token, ids_file,
                                                         tag="ref:")
                if kind == "postgres":
                    result["reference_tls_backends"] = db.tls_backends()
                    log(f"{kind}: the reference's PostgreSQL connections: "
                        f"{result['reference_tls_backends']}")
            finally:
                reference.stop()
            result["reference_peak_rss_mib"] = max(
                r["peak_rss_mib"] for r in result["reference_runs"])
    finally:
        server.stop()
        if args.keep_databases:
            log(f"{kind}: database kept at {db.url}")
        else:
            db.drop()
            if kind == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    path = db.path + suffix
                    if os.path.exists(path):
                        os.remove(path)
    return result


def bench_accounts(args, kind, accounts, outdir, stamp):
    """External accounts: `accounts` of them, 10 per customer, bulk-inserted; the list of a
    customer's accounts and the lookup by external_id, each on random targets."""
    customers = max(1, accounts // ACCOUNTS_PER_CUSTOMER)
    accounts = customers * ACCOUNTS_PER_CUSTOMER
    workdir = os.path.join(outdir, f"{kind}-accounts-{accounts}")
    os.makedirs(workdir, exist_ok=True)
    if kind == "sqlite":
        db = SqliteDb(workdir)
    else:
        db = PostgresDb(args.postgres_url, f"customers_api_bench_{stamp}_a{accounts}",
                        plain=args.plain)
    secret = secrets.token_hex(32)
    extra_env = dict(kv.split("=", 1) for kv in args.server_env)
    server = Server(args.binary, db, workdir, secret, extra_env)
    result = {"db": kind, "customers": customers, "accounts": accounts, "runs": []}
    try:
        log(f"{kind}: migrating, bulk-inserting {customers} customers and {accounts} accounts")
        server.migrate()
        started = time.time()
        db.bulk_insert(customers)
        db.bulk_insert_accounts(ACCOUNTS_PER_CUSTOMER)
        result["bulk_seed_s"] = time.time() - started
        server.start()
        token = server.token()
        ids = db.all_ids()
        ids_file = os.path.join(workdir, "ids.txt")
        with open(ids_file, "w") as f:
            f.write("\n".join(ids) + "\n")
        result["db_size_mib"] = db.size_bytes() / 2**20
        for name in ("accounts-list", "accounts-lookup"):
            result["runs"].append(measured_run(args, server, db, token, ids_file, name, 0,
                                               mode=name, accounts=accounts))
        result["peak_rss_mib"] = max(r["peak_rss_mib"] for r in result["runs"])
    finally:
        server.stop()
        if args.keep_databases:
            log(f"{kind}: database kept at {db.url}")
        else:
            db.drop()
            if kind == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(db.path + suffix):
                        os.remove(db.path + suffix)
    return result


def accounts_report(args, results, info):
    lines = [f"date {info['date']}; {info['cores']} cores, {info['cpu']}; kernel "
             f"{info['kernel']}; {info['wrk']}",
             f"wrk -t{args.threads} -c{args.connections}, {args.duration} s per run after "
             f"{args.warmup} s warm-up; binary {args.binary}; "
             f"{ACCOUNTS_PER_CUSTOMER} accounts per customer", "",
             "| db | accounts | run | req/s | p50 ms | p90 ms | p99 ms | non-2xx (wrk/server) "
             "| server CPU us/req | PG CPU us/req |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        for r in res["runs"]:
            lines.append(
                f"| {res['db']} | {res['accounts']} | {r['scenario']} | {r['rps']:.0f} "
                f"| {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} "
                f"| {r['non_2xx_wrk'] + r['socket_errors']}/{fmt(r['non_2xx_server'], 'd')} "
                f"| {r['server_cpu_us_per_req']:.0f} | {fmt(r['db_cpu_us_per_req'], '.0f')} |")
    lines.append("")
    for res in results:
        lines.append(f"{res['db']} {res['accounts']} accounts: bulk SQL {res['bulk_seed_s']:.1f} s;"
                     f" database {res['db_size_mib']:.0f} MiB")
    for kind in sorted({r["db"] for r in results}):
        sized = sorted((r for r in results if r["db"] == kind), key=lambda r: r["accounts"])
        if len(sized) < 2:
            continue
        small, large = sized[0], sized[-1]
        for name in ("accounts-list", "accounts-lookup"):
            a = next(r for r in small["runs"] if r["scenario"] == name)
            b = next(r for r in large["runs"] if r["scenario"] == name)
            lines.append(
                f"{kind} {name} {large['accounts']} vs {small['accounts']} accounts: server "
                f"CPU/request x{b['server_cpu_us_per_req'] / a['server_cpu_us_per_req']:.2f}, "
                f"throughput x{b['rps'] / a['rps']:.2f}, p99 x{b['p99_ms'] / a['p99_ms']:.2f}")
    bad = [(res["db"], r["scenario"]) for res in results for r in res["runs"]
           if r["non_2xx_wrk"] or r["socket_errors"] or r["non_2xx_server"]]
    lines.append("non-2xx answers: " + ("none" if not bad else f"FOUND in {bad}"))
    return "\n".join(lines), not bad


# ---------------------------------------------------------------- report

def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "wrk": wrk_version.strip(),
    }


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def reference_table(results):
    """'reference vs ours': each scenario's measures on both servers, and ours / reference."""
    if not any("reference_runs" in res for res in results):
        return []
    lines = ["", "reference vs ours (same database, token, ids and wrk load; ours / reference "
             "is the ratio: >= 0.8 on req/s is issue #6's goal; lower is better for p99, CPU "
             "and RSS)", "",
             "| db | customers | run | server | req/s | p99 ms | server CPU us/req | "
             "PG CPU us/req | peak RSS MiB | non-2xx (wrk) |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        ours = {r["scenario"]: r for r in res["runs"]}
        for ref in res.get("reference_runs", []):
            name = ref["scenario"]
            rows = [("reference", ref)] + ([("ours", ours[name])] if name in ours else [])
            for server, r in rows:
                lines.append(
                    f"| {res['db']} | {res['customers']} | {name} | {server} | {r['rps']:.0f} "
                    f"| {r['p99_ms']:.2f} | {r['server_cpu_us_per_req']:.0f} "
                    f"| {fmt(r['db_cpu_us_per_req'], '.0f')} "
                    f"| {r['peak_rss_mib']:.1f} | {r['non_2xx_wrk'] + r['socket_errors']} |")
            if name in ours:
                o = ours[name]

                def ratio(key):
                    return f"x{o[key] / ref[key]:.2f}" if ref[key] else "-"
                lines.append(
                    f"| {res['db']} | {res['customers']} | {name} | **ours / reference** "
                    f"| **{ratio('rps')}** | {ratio('p99_ms')} | {ratio('server_cpu_us_per_req')} "
                    f"| {ratio('db_cpu_us_per_req')} | {ratio('peak_rss_mib')} | |")
    return lines


def report(args, results, info):
    lines = []
    lines.append(f"date {info['date']}; {info['cores']} cores, {info['cpu']}; kernel "
                 f"{info['kernel']}; {info['wrk']}")
    lines.append(f"wrk -t{args.threads} -c{args.connections}, {args.duration} s per run after "
                 f"{args.warmup} s warm-up; binary {args.binary}"
                 + (f"; reference {args.reference_binary}" if "reference" in args.servers
                    else ""))
    if args.server_env:
        lines.append("server env: " + " ".join(args.server_env))
    for res in results:
        for who, key in (("ours", "tls_backends"), ("reference", "reference_tls_backends")):
            if key in res:
                lines.append(f"{res['db']} {res['customers']}, {who}: PostgreSQL connections "
                             f"after the runs: {res[key]['tls']} TLS, {res[key]['plain']} plain")
    lines.append("")
    lines.append("| db | customers | run | req/s | p50 ms | p90 ms | p99 ms | non-2xx (wrk/server)"
                 " | server CPU us/req | PG CPU us/req | peak RSS MiB |")
    lines.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for res in results:
        for r in res["runs"]:
            lines.append(
                f"| {res['db']} | {res['customers']} | {r['scenario']} | {r['rps']:.0f} "
                f"| {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} "
                f"| {r['non_2xx_wrk'] + r['socket_errors']}/{fmt(r['non_2xx_server'], 'd')} "
                f"| {r['server_cpu_us_per_req']:.0f} | {fmt(r['db_cpu_us_per_req'], '.0f')} "
                f"| {r['peak_rss_mib']:.1f} |")
    lines.append("")
    for res in results:
        lines.append(
            f"{res['db']} {res['customers']}: seeded through the API in "
            f"{res['api_seed_s']:.1f} s ({res['api_seed_rps']:.0f} req/s)"
            + (f", bulk SQL {res['bulk_seed_s']:.1f} s" if "bulk_seed_s" in res else "")
            + f"; database {res['db_size_mib']:.0f} MiB; server peak RSS over the whole run "
            f"{res['peak_rss_mib']:.1f} MiB")
    # Read flatness: the largest size against the smallest, per database and read scenario.
    for kind, scenario in sorted({(r["db"], x["scenario"]) for r in results for x in r["runs"]
                                  if x["scenario"] in ("get", "categories")}):
        sized = sorted((r for r in results if r["db"] == kind), key=lambda r: r["customers"])
        gets = [(r["customers"], next((x for x in r["runs"] if x["scenario"] == scenario),
                                      None))
                for r in sized]
        gets = [(n, g) for n, g in gets if g]
        if len(gets) >= 2:
            (n0, g0), (n1, g1) = gets[0], gets[-1]
            label = "GET" if scenario == "get" else "GET categories"
            lines.append(
                f"{kind} {label} {n1} vs {n0} customers: server CPU/request "
                f"x{g1['server_cpu_us_per_req'] / g0['server_cpu_us_per_req']:.2f}, "
                f"throughput x{g1['rps'] / g0['rps']:.2f}, p99 x{g1['p99_ms'] / g0['p99_ms']:.2f} "
                f"(wrk's own CPU/request {g0['wrk_cpu_us_per_req']:.0f} -> "
                f"{g1['wrk_cpu_us_per_req']:.0f} us: it shares the cores)")
    storms = [(res, r) for res in results for r in res["runs"] if r["scenario"] == "verify-storm"]
    if storms:
        lines.append("")
        lines.append("verify-storm: special-treatment GET (closed loop) alone, then while 64 "
                     "connections verify credentials (one Argon2id hash each, m=19 MiB t=2 p=1; "
                     f"at most {storms[0][1]['hashing_concurrency']} at a time, one per core)")
        lines.append("")
        lines.append("| db | GET conns | GET alone req/s | GET alone p99 ms | GET in storm req/s "
                     "| GET in storm p99 ms | verifications/s | verify p50 ms | verify p99 ms "
                     "| non-2xx | peak RSS MiB (aim) |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for res, r in storms:
            lines.append(
                f"| {res['db']} | {r['readers']} | {r['get_alone_rps']:.0f} "
                f"| {r['get_alone_p99_ms']:.2f} | {r['get_storm_rps']:.0f} "
                f"| {r['get_storm_p99_ms']:.2f} | {r['verify_rps']:.1f} "
                f"| {r['verify_p50_ms']:.1f} | {r['verify_p99_ms']:.1f} "
                f"| {r['non_2xx_wrk'] + r['socket_errors']}/{fmt(r['non_2xx_server'], 'd')} "
                f"| {r['peak_rss_mib']:.1f} (< {r['rss_aim_mib']}) |")
    lines.extend(reference_table(results))
    bad = [(res["db"], tag + r["scenario"]) for res in results
           for tag, runs in (("", res["runs"]), ("ref:", res.get("reference_runs", [])))
           for r in runs if r["non_2xx_wrk"] or r["socket_errors"] or r["non_2xx_server"]]
    lines.append("non-2xx answers: " + ("none" if not bad else f"FOUND in {bad}"))
    return "\n".join(lines), not bad


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="sqlite,postgres",
                   help="comma-separated: sqlite, postgres (default both)")
    p.add_argument("--customers", default="10000",
                   help="comma-separated customer counts, each on a fresh database (default "
                        "10000; e.g. 10000,1000000 for the flatness check)")
    p.add_argument("--accounts", default=None,
                   help="comma-separated external-account counts (e.g. 10000,1000000): "
                        "benchmark the accounts list and lookup instead of special treatment")
    p.add_argument("--api-seed-max", type=int, default=10000,
                   help="customers registered through the API; any beyond are bulk-inserted "
                        "with SQL into the migrated schema before the server starts")
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each run")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--scenarios", default="get,put,mix,get70",
                   help="comma-separated, run in this order: get, put, mix, get70 (needs get "
                        "before it), categories (also seeds categories and memberships)")
    p.add_argument("--seed-concurrency", type=int, default=32)
    p.add_argument("--storm-readers", type=int, default=16,
                   help="verify-storm: connections reading special treatment (closed loop)")
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "customers-api"))
    p.add_argument("--servers", default="ours",
                   help="comma-separated: ours, reference (default ours). With reference, every "
                        "scenario also runs against bench/reference on the same database (still "
                        "seeded through ours), and a 'reference vs ours' table gives the ratios")
    p.add_argument("--reference-binary",
                   default=os.path.join(HERE, "reference", "target", "release",
                                        "customers-api-reference"))
    p.add_argument("--postgres-url",
                   default=os.environ.get("BENCH_POSTGRES_URL",
                                          "postgres://postgres@127.0.0.1:5432/postgres"),
                   help="admin URL; a fresh database is created beside it and dropped after")
    p.add_argument("--plain", action="store_true",
                   help="PostgreSQL without TLS: sslmode=disable unless --postgres-url has an "
                        "sslmode (by default the URL's sslmode, else prefer: TLS if offered)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the server (and the reference), e.g. "
                        "DB_MAX_CONNECTIONS=4")
    p.add_argument("--out", default=None, help="output folder (default bench/out/<timestamp>)")
    p.add_argument("--keep-databases", action="store_true")
    p.add_argument("--profile", action="store_true",
                   help="record the get and put runs with perf and print where the CPU goes "
                        "(bench/profile_breakdown.py); those runs are slowed by perf")
    args = p.parse_args()

    if args.duration > 120 or args.warmup > 60:
        raise SystemExit("runs are bounded: --duration <= 120, --warmup <= 60")
    args.servers = args.servers.split(",")
    if not args.servers or set(args.servers) - {"ours", "reference"}:
        raise SystemExit("--servers takes ours, reference or both")
    if "reference" in args.servers and not os.path.exists(args.reference_binary):
        raise SystemExit(f"no reference server at {args.reference_binary}: build it with cargo "
                         "build --release --manifest-path bench/reference/Cargo.toml (run.sh does)")
    stamp = time.strftime("%Y%m%d_%H%M%S")
    outdir = args.out or os.path.join(HERE, "out", stamp)
    os.makedirs(outdir, exist_ok=True)
    args.outdir = outdir
    info = machine_info()
    results = []
    for kind in args.db.split(","):
        if args.accounts:
            for accounts in [int(c) for c in args.accounts.split(",")]:
                log(f"== {kind}, {accounts} external accounts")
                results.append(bench_accounts(args, kind, accounts, outdir, stamp))
            continue
        for customers in [int(c) for c in args.customers.split(",")]:
            log(f"== {kind}, {customers} customers")
            results.append(bench_one(args, kind, customers, outdir, stamp))
    text, ok = (accounts_report if args.accounts else report)(args, results, info)
    print(text)
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"machine": info, "args": vars(args), "results": results}, f, indent=2)
    log(f"results in {outdir}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
