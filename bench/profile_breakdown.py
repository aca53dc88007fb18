#!/usr/bin/env python3
"""Where the server's CPU goes, from a `perf record --call-graph dwarf` profile.

    perf record -F 400 -e cpu-clock --call-graph dwarf,16384 -p <server pid> -- sleep 8
    perf script -i perf.data | python3 bench/profile_breakdown.py [CATEGORY-SUBSTRING]

Each sample is charged to one category, so the shares add up to 100%: first to the first
*cause* below whose function is anywhere on the sample's stack, else to the *layer* of the
innermost frame that names one. With a category substring, the top frames of that category
are listed too. `bench/run.sh --profile` records one GET and one PUT run and prints this.
"""

import re
import sys
from collections import Counter

CAUSES = [
    ("JWT (jsonwebtoken: base64, HMAC-SHA256, claims JSON)", r"jsonwebtoken|sha2::|hmac::"),
    ("request log line (tracing-subscriber: format + write(2))",
     r"tracing_subscriber|tracing_core::event"),
    ("metrics (prometheus-client)", r"prometheus_client|customers_api::metrics"),
    ("SQLite re-prepare (LIMIT ? expires the statement)", r"sqlite3Reprepare"),
    ("SQLite: run the statement (+ WAL write, fsync)",
     r"sqlite3_step|sqlite3_reset|sqlite3_bind|sqlite3VdbeExec|sqlite3_prepare"
     r"|sqlite3LockAndPrepare|sqlite3_column"),
    ("TLS to PostgreSQL (rustls)", r"rustls|\bring::|ring_core"),
    ("pool: release ping (sqlx return_to_pool)", r"return_to_pool"),
    ("thread hand-offs (channels, futex wake-ups)",
     r"flume::|futex|futures_channel::oneshot|std::thread::functions::park|Thread::unpark"),
    ("pool: acquire (sqlx)", r"PoolInner.*acquire|pool::inner::|Pool<DB>>::acquire"),
    ("TCP socket I/O (kernel)",
     r"sys_sendto|sys_recvfrom|sys_write|sys_read|sys_epoll|sys_writev|tcp_|sock_"),
    ("request/answer JSON (serde_json)", r"serde_json"),
]
LAYERS = [
    ("ORM (sea-orm / sea-query: build SQL, map rows)", r"sea_orm|sea_query"),
    ("sqlx (other)", r"sqlx_"),
    ("tokio-postgres (protocol, row decode)", r"tokio_postgres|postgres_protocol|postgres_types"),
    ("HTTP framework (hyper, poem routing, extractors)", r"hyper|poem|^http::|httparse"),
    ("app code (customers_api: middleware, handlers)", r"customers_api"),
    ("tokio scheduler", r"tokio::"),
]
COMPILED_CAUSES = [(name, re.compile(p)) for name, p in CAUSES]
COMPILED_LAYERS = [(name, re.compile(p)) for name, p in LAYERS]


def classify(frames):
    for name, pattern in COMPILED_CAUSES:
        if any(pattern.search(f) for f in frames):
            return name
    for frame in frames:  # innermost first
        for name, pattern in COMPILED_LAYERS:
            if pattern.search(frame):
                return name
    if frames and frames[0].startswith("[k]"):
        return "kernel, other (scheduling, interrupts)"
    return "other (malloc, libc, unresolved)"


def main():
    detail = sys.argv[1] if len(sys.argv) > 1 else None
    counts, by_comm, leaves = Counter(), Counter(), Counter()
    frames, comm = [], None

    def flush():
        if comm is None:
            return
        category = classify(frames)
        counts[category] += 1
        by_comm[comm] += 1
        if detail and detail in category:
            leaves[frames[0] if frames else "-"] += 1

    header = re.compile(r"^(\S.*?)\s+\d+(/\d+)?\s+[\d.]+:\s+\d+\s+\S+:")
    for line in sys.stdin:
        if not line.strip():
            flush()
            frames, comm = [], None
        elif not line[0].isspace():
            m = header.match(line)
            comm = m.group(1).strip() if m else line.split()[0]
        else:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                sym = re.sub(r"\+0x[0-9a-f]+ \(.*\)$", "", parts[1])
                frames.append(("[k]" if "[kernel.kallsyms]" in line else "") + sym)
    flush()
    total = sum(counts.values()) or 1
    print(f"{total} samples")
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f}%  {name}")
    for leaf, n in leaves.most_common(25):
        print(f"    {100 * n / total:5.1f}%  {leaf[:120]}")
    print("by thread: " + ", ".join(f"{c} {100 * n / total:.0f}%"
                                    for c, n in by_comm.most_common()))


if __name__ == "__main__":
    main()
