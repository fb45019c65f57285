-- wrk script: sends pre-generated JSON bodies (one per line of the file given as the first
-- script argument), each thread its own share, and reports counts and latency as one line.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local path, total = args[1], tonumber(args[2])
  path_prefix = args[3] or "/api/v1/cases"
  bodies = {}
  local i = 0
  for line in io.lines(path) do
    if i % total == (id - 1) then
      table.insert(bodies, line)
    end
    i = i + 1
  end
  index, ok, refused, other, exhausted = 0, 0, 0, 0, 0
end

function request()
  index = index + 1
  if index > #bodies then
    exhausted = 1
    index = 1
  end
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = string.format("bench-%02d-%09d-key", id, index)
  return wrk.format("POST", path_prefix, headers, bodies[index])
end

function response(status, headers, body)
  if status == 200 or status == 201 then
    ok = ok + 1
  elseif status >= 400 and status < 500 then
    refused = refused + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t_ok, t_refused, t_other, t_exhausted = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    t_ok = t_ok + thread:get("ok")
    t_refused = t_refused + thread:get("refused")
    t_other = t_other + thread:get("other")
    t_exhausted = math.max(t_exhausted, thread:get("exhausted"))
  end
  io.write(string.format(
    'WRK {"ok": %d, "refused": %d, "other": %d, "exhausted": %d, "errors": %d, ' ..
    '"duration_us": %d, "p50_us": %d, "p99_us": %d}\n',
    t_ok, t_refused, t_other, t_exhausted,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout + summary.errors.status,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
