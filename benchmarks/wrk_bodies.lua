-- wrk script: sends pre-generated JSON bodies (one per line of the file given as the first
-- script argument), each thread its own share, and reports counts, the reasons of refusals and
-- latency as one line. Optional arguments: the path to post to and a tag that makes this run's
-- idempotency keys differ from another run's.
local threads = {}
-- What each refusal of the intake says, by the words of its message.
local reasons = {
  forged = "not issued by this server",
  expired = "has expired",
  spent = "challenge was already used",
  unsolved = "does not solve the challenge",
  answered_wrongly = "already answered wrongly",
  bad_envelope = "envelope",
}
local reason_names = {}
for name in pairs(reasons) do table.insert(reason_names, name) end
table.sort(reason_names)
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local path, total = args[1], tonumber(args[2])
  path_prefix = args[3] or "/api/v1/cases"
  tag = args[4] or "bench"
  bodies = {}
  local i = 0
  for line in io.lines(path) do
    if i % total == (id - 1) then
      table.insert(bodies, line)
    end
    i = i + 1
  end
  index, ok, refused, other, exhausted = 0, 0, 0, 0, 0
  for _, name in ipairs(reason_names) do _G["n_" .. name] = 0 end
  n_unknown = 0
end

function request()
  index = index + 1
  if index > #bodies then
    exhausted = 1
    index = 1
  end
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = string.format("%s-%02d-%09d-key", tag, id, index)
  return wrk.format("POST", path_prefix, headers, bodies[index])
end

function response(status, headers, body)
  if status == 200 or status == 201 then
    ok = ok + 1
  elseif status >= 400 and status < 500 then
    refused = refused + 1
    local known = false
    for _, name in ipairs(reason_names) do
      if body and string.find(body, reasons[name], 1, true) then
        _G["n_" .. name] = _G["n_" .. name] + 1
        known = true
        break
      end
    end
    if not known then n_unknown = n_unknown + 1 end
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t_ok, t_refused, t_other, t_exhausted = 0, 0, 0, 0
  local t_reasons = {unknown = 0}
  for _, name in ipairs(reason_names) do t_reasons[name] = 0 end
  for _, thread in ipairs(threads) do
    for name, _ in pairs(t_reasons) do
      t_reasons[name] = t_reasons[name] + thread:get("n_" .. name)
    end
    t_ok = t_ok + thread:get("ok")
    t_refused = t_refused + thread:get("refused")
    t_other = t_other + thread:get("other")
    t_exhausted = math.max(t_exhausted, thread:get("exhausted"))
  end
  local parts = {}
  for name, count in pairs(t_reasons) do
    table.insert(parts, string.format('"%s": %d', name, count))
  end
  io.write(string.format(
    'WRK {"ok": %d, "refused": %d, "other": %d, "exhausted": %d, "errors": %d, ' ..
    '"timeouts": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "reasons": {%s}}\n',
    t_ok, t_refused, t_other, t_exhausted,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout + summary.errors.status,
    summary.errors.timeout, summary.duration, latency:percentile(50), latency:percentile(99),
    table.concat(parts, ", ")))
end
