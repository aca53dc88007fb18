-- wrk script for bench/bench.py's verify-storm scenario: credential verifications, round robin
-- over the seeded credentials, each with its right secret (so each costs one Argon2id hash and
-- no write: the count stays 0). Configured through the environment:
--   BENCH_VERIFY_FILE  lines "customer_id credential_id secret"
--   BENCH_TOKEN        bearer token with credentials:verify
--   BENCH_ORG          organization of the customers
-- done() prints one line "BENCH_RESULT {json}" that bench.py parses.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads + 1)
  table.insert(threads, thread)
end

local requests_list, next_index, headers

function init(args)
  local file = assert(os.getenv("BENCH_VERIFY_FILE"), "BENCH_VERIFY_FILE is not set")
  local org = assert(os.getenv("BENCH_ORG"), "BENCH_ORG is not set")
  local token = assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")
  headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  requests_list = {}
  for line in io.lines(file) do
    local customer, credential, secret = line:match("^(%S+) (%S+) (%S+)$")
    if customer then
      local path = "/v1/organizations/" .. org .. "/customers/" .. customer ..
        "/credentials/" .. credential .. "/verify"
      requests_list[#requests_list + 1] =
        wrk.format("POST", path, headers, '{"secret":"' .. secret .. '"}')
    end
  end
  assert(#requests_list > 0, "no credentials in " .. file)
  next_index = (thread_index or 1) % #requests_list
end

function request()
  next_index = next_index % #requests_list + 1
  return requests_list[next_index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,' ..
    '"errors_timeout":%d,"lat_mean_us":%.1f,"lat_max_us":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
