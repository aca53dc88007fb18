-- wrk script for bench/bench.py: special-treatment GET, PUT or a GET/PUT mix on random
-- customers (or GET of another per-customer resource, e.g. their categories), or the
-- external-accounts reads, with a valid bearer token. Configured through the environment
-- (bench.py sets it):
--   BENCH_IDS_FILE   customer ids, one per line
--   BENCH_TOKEN      bearer token (HS256, all scopes)
--   BENCH_ORG        organization of the customers
--   BENCH_PUT_PERCENT  share of PUTs: 0 = GET only, 100 = PUT only, 10 = the 90/10 mix
--   BENCH_RESOURCE   the customer's sub-resource: special-treatment (default) or categories
--   BENCH_MODE       treatment (default); accounts-list: GET a random customer's accounts;
--                    accounts-lookup: GET /accounts?external_id= a random one of
--                    acct-0000001 .. acct-<BENCH_ACCOUNTS> (bench.py's bulk-inserted references)
--   BENCH_ACCOUNTS   how many accounts there are (accounts-lookup)
--   BENCH_DELAY_MS   mean think time between a connection's answer and its next request
--                    (exponential, so arrivals are Poisson-like); 0 = closed loop, full speed
-- done() prints one line "BENCH_RESULT {json}" that bench.py parses.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads + 1)
  table.insert(threads, thread)
end

local blob, count, prefix, suffix, bodies, headers_get, headers_put
local put_percent, delay_ms, mode, accounts, lookup_prefix
local ID_LEN = 36 -- a UUID in text

-- Every PUT body is a valid 3-value treatment; the values vary so the rows really change.
local pool = { "vulnerable", "vip", "no-marketing", "hearing-impaired", "large-print",
               "bereavement", "power-of-attorney", "financial-difficulty" }

function init(args)
  math.randomseed(os.time() * 1000 + (thread_index or 0) * 7919)
  local file = assert(os.getenv("BENCH_IDS_FILE"), "BENCH_IDS_FILE is not set")
  local org = assert(os.getenv("BENCH_ORG"), "BENCH_ORG is not set")
  local token = assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")
  put_percent = tonumber(os.getenv("BENCH_PUT_PERCENT") or "0")
  mode = os.getenv("BENCH_MODE") or "treatment"
  accounts = tonumber(os.getenv("BENCH_ACCOUNTS") or "0")
  assert(mode ~= "accounts-lookup" or accounts > 0, "accounts-lookup needs BENCH_ACCOUNTS")
  lookup_prefix = "/v1/organizations/" .. org .. "/accounts?external_id="
  delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
  -- All ids in one string: a table of a million strings made LuaJIT's collector walk it in
  -- one step, stalling this thread for hundreds of milliseconds (a false p99 at 1M customers).
  local ids = {}
  for line in io.lines(file) do
    if #line > 0 then
      assert(#line == ID_LEN, "not a UUID: " .. line)
      ids[#ids + 1] = line
    end
  end
  count = #ids
  assert(count > 0, "no customer ids in " .. file)
  blob = table.concat(ids)
  ids = nil
  collectgarbage()
  prefix = "/v1/organizations/" .. org .. "/customers/"
  suffix = mode == "accounts-list" and "/accounts"
    or "/" .. (os.getenv("BENCH_RESOURCE") or "special-treatment")
  headers_get = { ["Authorization"] = "Bearer " .. token }
  headers_put = { ["Authorization"] = "Bearer " .. token,
                  ["Content-Type"] = "application/json" }
  bodies = {}
  for i = 1, 32 do
    local a = math.random(#pool)
    local b = a % #pool + 1
    local c = b % #pool + 1
    bodies[i] = string.format('{"values":["%s","%s","%s"]}', pool[a], pool[b], pool[c])
  end
end

function request()
  if mode == "accounts-lookup" then
    return wrk.format("GET", string.format("%sacct-%07d", lookup_prefix, math.random(accounts)),
                      headers_get)
  end
  local start = (math.random(count) - 1) * ID_LEN
  local path = prefix .. blob:sub(start + 1, start + ID_LEN) .. suffix
  if put_percent > 0 and math.random(100) <= put_percent then
    return wrk.format("PUT", path, headers_put, bodies[math.random(#bodies)])
  end
  return wrk.format("GET", path, headers_get)
end

-- wrk waits whole milliseconds: round an exponential sample up or down at random so the mean
-- stays the configured one.
if (tonumber(os.getenv("BENCH_DELAY_MS") or "0") or 0) > 0 then
  function delay()
    local sample = -math.log(1 - math.random()) * delay_ms
    local whole = math.floor(sample)
    if math.random() < sample - whole then whole = whole + 1 end
    return whole
  end
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
