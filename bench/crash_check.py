#!/usr/bin/env python3
"""A 204 survives a process crash right after it: PUT, SIGKILL the server the moment the 204
arrives, restart it on the same SQLite file, GET, compare. Repeats --rounds times.

    python3 bench/crash_check.py [--binary target/release/customers-api] [--rounds 20]

(A process crash only: a power loss is what synchronous=FULL adds on top, see BENCHMARKS.md.)
"""

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VALUES = ["vulnerable", "vip", "no-marketing", "large-print", "bereavement", "hearing-impaired"]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--binary", default=os.path.join(HERE, "..", "target", "release", "customers-api"))
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    workdir = tempfile.mkdtemp(prefix="crash-check-")
    port = 18000 + os.getpid() % 1000
    env = dict(os.environ, DATABASE_URL=f"sqlite://{workdir}/db.sqlite?mode=rwc",
               JWT_SECRET=secrets.token_hex(32), LISTEN_ADDR=f"127.0.0.1:{port}",
               JWT_SECRET_FILE=f"{workdir}/jwt-secret", RUST_LOG="warn")
    token = subprocess.run([args.binary, "token", "--org", "crash"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def start():
        proc = subprocess.Popen([args.binary, "serve"], env=env, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    return proc, conn
            except OSError:
                time.sleep(0.05)
        raise SystemExit("server did not start")

    procs = []  # every server started, so none outlives a failure

    def start_tracked():
        proc, conn = start()
        procs.append(proc)
        return proc, conn

    try:
        lost = run_rounds(args, start_tracked, auth)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print(f"{args.rounds} PUTs answered 204 and SIGKILLed at once: {lost} lost")
    sys.exit(1 if lost else 0)


def run_rounds(args, start, auth):
    proc, conn = start()
    conn.request("POST", "/v1/organizations/crash/customers", json.dumps({"external_id": "c1"}),
                 auth)
    resp = conn.getresponse()
    cid = json.loads(resp.read())["id"]
    path = f"/v1/organizations/crash/customers/{cid}/special-treatment"
    lost = 0
    for round_ in range(args.rounds):
        values = random.sample(VALUES, 3)
        conn.request("PUT", path, json.dumps({"values": values}), auth)
        resp = conn.getresponse()
        proc.send_signal(signal.SIGKILL)  # the moment the 204 is in
        proc.wait()
        assert resp.status == 204, resp.status
        proc, conn = start()
        conn.request("GET", path, headers=auth)
        got = json.loads(conn.getresponse().read())["values"]
        if got != values:
            lost += 1
            print(f"round {round_}: PUT {values} answered 204, after the crash {got}")
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    return lost


if __name__ == "__main__":
    main()
