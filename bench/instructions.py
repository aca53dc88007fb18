#!/usr/bin/env python3
"""Instructions per request, counted by valgrind's callgrind: a measure of the server's own CPU
cost that does not move with whatever else the shared machine is doing.

    bench/instructions.py [--db sqlite|postgres] [--scenario get|put|categories] [--servers ours,reference]
                          [--binary target/release/customers-api] [--top 40]

For each server: a fresh database with --customers customers (bulk-inserted with SQL, as
bench.py does above --api-seed-max), the server started under callgrind with instrumentation
off, then turned on, a warm-up, the counters zeroed, one wrk run (bench/load.lua, few
connections: under valgrind the server is ~50x slower), and a dump. Prints the user-space
instructions (Ir) per answered request, and with --top the functions with the most inclusive
instructions per request (callgrind_annotate), to see where the difference lies.

Counts only the server process's user space: the kernel's socket work and the database
server's own CPU (PostgreSQL) are not in them; bench/run.sh measures those. Needs valgrind
and wrk (bench/run.sh installs wrk). Not part of CI.
"""

import argparse
import glob
import os
import re
import secrets
import shutil
import subprocess
import sys
import time

import bench

HERE = os.path.dirname(os.path.abspath(__file__))


def callgrind_control(*args):
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True)


def total_ir(dump):
    with open(dump) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def top_functions(dump, requests, top):
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", f"--threshold=100", dump],
        check=True, capture_output=True, text=True,
    ).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)", line)
        if m:
            rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    rows.sort(key=lambda r: -r[0])
    seen = set()
    lines = []
    for ir, name in rows:
        name = re.sub(r"^\?\?\?:|^[^:]*\.rs:", "", name).split(" [")[0]
        if name in seen:
            continue
        seen.add(name)
        lines.append(f"{ir / requests:12,.0f}  {name[:150]}")
        if len(lines) >= top:
            break
    return "\n".join(lines)


def measure(args, name, command, db, secret, ids_file, workdir, extra_env):
    out_base = os.path.join(workdir, f"callgrind.{name}")
    for old in glob.glob(out_base + "*"):
        os.remove(old)
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--callgrind-out-file={out_base}.%p"]
    server = bench.Server(args.binary, db, workdir, secret, extra_env,
                          command=valgrind + command, log_name=f"{name}.log")
    server.start()
    try:
        token = server.token(args.scope) if name == "ours" else args.token
        callgrind_control("-i", "on", str(server.pid))
        wrk_args = argparse.Namespace(threads=1, connections=args.connections)
        put_percent = 100 if args.scenario == "put" else 0
        resource = "categories" if args.scenario == "categories" else "special-treatment"
        bench.run_wrk(wrk_args, server, token, ids_file, args.warmup, put_percent,
                      resource=resource)
        callgrind_control("-z", str(server.pid))
        result = bench.run_wrk(wrk_args, server, token, ids_file, args.duration, put_percent,
                               resource=resource)
        callgrind_control("-d", str(server.pid))
        requests = result["requests"]
        failed = sum(v for k, v in result.items() if k.startswith("errors_"))
        if failed:
            raise RuntimeError(f"{name}: failed requests in the measured run: {result}")
    finally:
        server.stop()
    dumps = sorted(glob.glob(out_base + ".*"), key=os.path.getmtime)
    # The first dump is the one callgrind_control -d asked for; the last is written at exit.
    dump = next(d for d in dumps if not d.endswith(str(server.pid)))
    ir = total_ir(dump)
    return {"name": name, "requests": requests, "ir": ir, "dump": dump,
            "token": token}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    p.add_argument("--scenario", default="get", choices=["get", "put", "categories"],
                   help="categories: GET a customer's categories, each customer in 1-3 of them "
                        "(bulk-inserted with the customers, as bench.py does)")
    p.add_argument("--servers", default="ours,reference")
    p.add_argument("--customers", type=int, default=10000)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--duration", type=int, default=20, help="seconds of the measured run")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--binary", default=os.path.join(bench.ROOT, "target", "release",
                                                    "customers-api"))
    p.add_argument("--reference-binary", default=os.path.join(
        bench.ROOT, "bench", "reference", "target", "release", "customers-api-reference"))
    p.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--scope", default=None,
                   help="the token's scopes (default: the binary's default). Builds whose "
                        "defaults differ sign tokens of different lengths, and the HMAC's cost "
                        "follows the length: give both the same, e.g. the v1 four")
    p.add_argument("--top", type=int, default=0,
                   help="also list the N functions with the most inclusive Ir per request")
    args = p.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (bench/run.sh installs wrk)")

    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = os.path.join(HERE, "out", f"instructions-{stamp}")
    os.makedirs(workdir)
    if args.db == "sqlite":
        db = bench.SqliteDb(workdir)
    else:
        db = bench.PostgresDb(args.postgres_url, f"customers_api_instr_{stamp.replace('-', '_')}")
    secret = secrets.token_hex(32)
    extra_env = dict(kv.split("=", 1) for kv in args.server_env)
    results = []
    try:
        setup = bench.Server(args.binary, db, workdir, secret, extra_env)
        setup.migrate()
        db.bulk_insert(args.customers, categories=args.scenario == "categories")
        ids_file = os.path.join(workdir, "ids.txt")
        with open(ids_file, "w") as f:
            f.write("\n".join(db.all_ids()) + "\n")
        args.token = setup.token(args.scope)
        servers = args.servers.split(",")
        commands = {"ours": [args.binary, "serve"], "reference": [args.reference_binary]}
        for name in servers:
            bench.log(f"{name}: {args.scenario} under callgrind, {args.connections} connections")
            r = measure(args, name, commands[name], db, secret, ids_file, workdir, extra_env)
            results.append(r)
            print(f"{name}: {r['requests']} requests, {r['ir'] / r['requests']:,.0f} Ir/request"
                  f"  ({r['dump']})", flush=True)
            if args.top:
                print(top_functions(r["dump"], r["requests"], args.top), flush=True)
    finally:
        db.drop()
    if len(results) == 2:
        a, b = (r["ir"] / r["requests"] for r in results)
        print(f"{results[0]['name']} / {results[1]['name']}: {a / b:.2f}x instructions "
              f"per request ({args.db} {args.scenario})")


if __name__ == "__main__":
    main()
