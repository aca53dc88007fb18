#!/usr/bin/env bash
# The benchmark in one command: installs what it needs (wrk, python3, psql), builds the release
# binary, and runs bench/bench.py, which starts the server on fresh SQLite and PostgreSQL
# databases, seeds customers through the API and drives GET, PUT and a 90/10 mix with wrk.
#
#   bench/run.sh                                  # both databases, 10,000 customers
#   bench/run.sh --db sqlite --customers 10000,1000000 --scenarios get
#   bench/run.sh --help                           # every option
#   bench/run.sh --servers ours,reference         # also the minimal reference server, and
#                                                 # the ratio ours / reference (issue #6)
#   bench/run.sh --db postgres --plain            # PostgreSQL without TLS (sslmode=disable)
#   bench/run.sh --accounts 10000,1000000         # external accounts: list and lookup (issue 15)
#
# PostgreSQL is reached over TLS by default when the server offers it: BENCH_POSTGRES_URL (or
# --postgres-url) without an sslmode gets sqlx's default, prefer, as in production, for our server
# and the reference alike; --plain adds sslmode=disable. The report says how many of each
# server's PostgreSQL connections were encrypted.
#
# --servers ours,reference also builds bench/reference (a deliberately minimal hyper + rusqlite
# / tokio-postgres server doing the same work, its own Cargo project and target folder) and runs
# every scenario against it on the same database, after our server.
#
# Results are printed and kept in bench/out/<timestamp>/ (results.md, results.json, server
# logs). Loopback only; every run is bounded (10 s by default). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the options ask for: which databases, and whether to build.
db="sqlite,postgres" binary="" servers="ours" prev=""
for arg in "$@"; do
  case "$prev" in --db) db="$arg" ;; --binary) binary="$arg" ;; --servers) servers="$arg" ;; esac
  case "$arg" in
    --db=*) db="${arg#--db=}" ;;
    --binary=*) binary="${arg#--binary=}" ;;
    --servers=*) servers="${arg#--servers=}" ;;
  esac
  prev="$arg"
done

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v python3 >/dev/null || need_apt+=(python3)
[[ "$db" != *postgres* ]] || command -v psql >/dev/null || need_apt+=(postgresql-client)
[[ " $* " != *" --profile "* ]] || command -v perf >/dev/null || need_apt+=(linux-perf)
if ((${#need_apt[@]})); then
  echo "[bench] installing ${need_apt[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
fi

# PostgreSQL must answer when it is benchmarked; start the local cluster if it does not.
if [[ "$db" == *postgres* ]]; then
  url="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  if ! pg_isready -d "$url" -t 3 >/dev/null 2>&1; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    done
    for _ in $(seq 1 30); do pg_isready -d "$url" -t 1 >/dev/null 2>&1 && break; sleep 1; done
    if ! pg_isready -d "$url" -t 3 >/dev/null 2>&1; then
      echo "[bench] PostgreSQL at $url does not answer: set BENCH_POSTGRES_URL or pass --db sqlite" >&2
      exit 1
    fi
  fi
fi

if [[ -z "$binary" ]]; then
  echo "[bench] cargo build --release --locked" >&2
  cargo build --release --locked >&2
fi

if [[ ",$servers," == *,reference,* ]]; then
  echo "[bench] cargo build --release --locked --manifest-path bench/reference/Cargo.toml" >&2
  cargo build --release --locked --manifest-path bench/reference/Cargo.toml >&2
fi

exec python3 bench/bench.py "$@"
