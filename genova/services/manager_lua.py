"""Lua scripts of the job manager. Each runs atomically inside Redis.

Keys (prefix ``genova:``), per platform ``p`` and user ``u``:

- ``ready:p``      ZSET  jobs that may be claimed now, by score (priority desc, seq asc)
- ``held:p:u``     ZSET  the user's jobs waiting for one of their concurrency slots
- ``uready:u:p``   ZSET  the user's jobs in ``ready:p``
- ``urun:u``       ZSET  the user's running jobs, on any platform
- ``cap:u``        STR   the user's concurrent-job limit
- ``job:j``        HASH  u, p, s (score), st (held|ready|running), lease, w (worker)
- ``leases``       ZSET  running jobs by lease deadline (ms): expired = worker lost
- ``wake:p``       LIST  one token per job made ready; idle workers block on it
- ``seq``           STR   the last sequence number handed out (creation order)
- ``epoch``         STR   set once ``seq`` was seeded from SQL; gone = Redis lost its state

On each platform, a user's best waiting jobs are ready up to the slots their running jobs
leave free (``running + ready on p <= cap``); the rest are held and block nobody. Counting
per platform means jobs waiting on a platform without workers never hold back the user's
jobs elsewhere; when a claim fills a slot, the user's surplus ready jobs on the other
platform go back to held, and a claim re-checks the cap, so running jobs never exceed it.
Every operation touches O(log n) entries: nothing scans the queue.
"""

PREAMBLE = """
local P = 'genova:'
-- The catalog's platforms, passed in as KEYS by every call (never written in here).
local PLATFORMS = KEYS

-- Idle RQ workers block on wake:p; server processes hear 'ready' and 'moved' on the
-- genova:queue channel (to hand jobs to waiting extensions and refresh queue positions).
local function wake(p, u)
  redis.call('RPUSH', P..'wake:'..p, '1')
  redis.call('LTRIM', P..'wake:'..p, -256, -1)
  redis.call('PUBLISH', P..'queue', 'ready|'..p..'|'..u)
end

local function moved(p)
  redis.call('PUBLISH', P..'queue', 'moved|'..p)
end

local function cap_of(u)
  return tonumber(redis.call('GET', P..'cap:'..u) or '1')
end

-- slots in use on platform p: running anywhere, plus ready on p
local function used(u, p)
  return redis.call('ZCARD', P..'urun:'..u) + redis.call('ZCARD', P..'uready:'..u..':'..p)
end

local function make_ready(job, p, u, s)
  redis.call('ZREM', P..'held:'..p..':'..u, job)
  redis.call('ZADD', P..'ready:'..p, s, job)
  redis.call('ZADD', P..'uready:'..u..':'..p, s, job)
  redis.call('HSET', P..'job:'..job, 'st', 'ready')
  wake(p, u)
end

local function make_held(job, p, u, s)
  redis.call('ZREM', P..'ready:'..p, job)
  redis.call('ZREM', P..'uready:'..u..':'..p, job)
  redis.call('ZADD', P..'held:'..p..':'..u, s, job)
  redis.call('HSET', P..'job:'..job, 'st', 'held')
end

-- Fill the user's free slots on every platform with their best held jobs there.
local function promote(u)
  local cap = cap_of(u)
  for _, p in ipairs(PLATFORMS) do
    while used(u, p) < cap do
      local h = redis.call('ZRANGE', P..'held:'..p..':'..u, 0, 0, 'WITHSCORES')
      if not h[1] then break end
      make_ready(h[1], p, u, tonumber(h[2]))
    end
  end
end

-- Over the cap (a claim filled a slot, the cap was lowered, or running jobs were re-adopted
-- after a restart): the user's worst ready jobs go back to held until they fit again.
local function enforce_cap(u)
  local cap = cap_of(u)
  for _, p in ipairs(PLATFORMS) do
    while used(u, p) > cap do
      local worst = redis.call('ZRANGE', P..'uready:'..u..':'..p, -1, -1, 'WITHSCORES')
      if not worst[1] then break end
      make_held(worst[1], p, u, tonumber(worst[2]))
    end
  end
end

-- A better job arriving for a user at their cap on p swaps places with their worst ready
-- job there, so that a user's ready jobs are always their best ones.
local function rebalance(u, p, s)
  if used(u, p) < cap_of(u) then return end
  local worst = redis.call('ZRANGE', P..'uready:'..u..':'..p, -1, -1, 'WITHSCORES')
  if worst[1] and tonumber(worst[2]) > s then
    make_held(worst[1], p, u, tonumber(worst[2]))
  end
end

local function position(job)
  local m = redis.call('HMGET', P..'job:'..job, 'u', 'p', 's', 'st')
  if m[4] == 'ready' then
    return redis.call('ZRANK', P..'ready:'..m[2], job) + 1
  elseif m[4] == 'held' then
    -- waiting for one of the user's own slots: behind everything claimable now
    local ahead = redis.call('ZCARD', P..'ready:'..m[2])
    return ahead + redis.call('ZRANK', P..'held:'..m[2]..':'..m[1], job) + 1
  end
  return false
end

-- Seconds until a job at position pos is done: the jobs ahead shared among the platform's
-- live workers (at least one), at the platform's average, then this job at its model's.
-- a: ARGV offset of model, own default, platform default, now ms, worker freshness ms
local function estimate(pos, p, a)
  local d = redis.call('HMGET', P..'durations', ARGV[a], 'platform:'..p)
  local own = tonumber(d[1]) or tonumber(ARGV[a + 1])
  local plat = tonumber(d[2]) or tonumber(ARGV[a + 2])
  redis.call('ZREMRANGEBYSCORE', P..'workers:'..p, '-inf',
             tonumber(ARGV[a + 3]) - tonumber(ARGV[a + 4]))
  local workers = math.max(1, redis.call('ZCARD', P..'workers:'..p))
  return math.max(1, math.floor(math.floor((pos - 1) / workers) * plat + own + 0.5))
end

local function placement(job, a)
  local pos = position(job)
  if not pos then return {false, false} end
  local p = redis.call('HGET', P..'job:'..job, 'p')
  return {pos, estimate(pos, p, a)}
end

-- Publish job_queued on the user's event channel from inside the script that queued the
-- job, so that it always precedes the job_started of whoever claims it next.
-- ARGV[a] is the channel ('' for silence), then the estimate arguments.
local function announce(job, a, requeued)
  local placed = placement(job, a + 1)
  if ARGV[a] ~= '' then
    local event = {type = 'job_queued', jobId = job, queuePosition = placed[1],
                   estimatedTime = placed[2], model = ARGV[a + 1]}
    if requeued then event['requeued'] = true end
    redis.call('PUBLISH', ARGV[a], cjson.encode(event))
  end
  return placed
end

local function forget(job)
  local m = redis.call('HMGET', P..'job:'..job, 'u', 'p', 'st')
  if not m[1] then return nil end
  local u, p = m[1], m[2]
  if m[3] ~= 'running' then moved(p) end
  redis.call('ZREM', P..'ready:'..p, job)
  redis.call('ZREM', P..'held:'..p..':'..u, job)
  redis.call('ZREM', P..'uready:'..u..':'..p, job)
  redis.call('ZREM', P..'urun:'..u, job)
  redis.call('ZREM', P..'leases', job)
  redis.call('DEL', P..'job:'..job)
  return u
end
"""

# ARGV: job, user, platform, score, cap, then the announce arguments (channel or '', model,
# own default, platform default, now ms, worker freshness ms) -> {position, estimate}.
# Idempotent: a job already queued keeps its place (and is not announced again).
SUBMIT = PREAMBLE + """
local job, u, p, s = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
redis.call('SET', P..'cap:'..u, ARGV[5])
if redis.call('EXISTS', P..'job:'..job) == 1 then
  ARGV[6] = ''
else
  redis.call('HSET', P..'job:'..job, 'u', u, 'p', p, 's', ARGV[4], 'st', 'held')
  redis.call('ZADD', P..'held:'..p..':'..u, s, job)
  enforce_cap(u)
  rebalance(u, p, s)
  promote(u)
  moved(p)
end
-- ARGV[12]: the job_created event as JSON without its place, which is added here, so the
-- submission costs one round trip and job_created always precedes job_queued
if ARGV[6] ~= '' and ARGV[12] and ARGV[12] ~= '' then
  local placed = placement(job, 7)
  redis.call('PUBLISH', ARGV[6], string.sub(ARGV[12], 1, -2)..',"queuePosition":'
             ..tostring(placed[1])..',"estimatedTime":'..tostring(placed[2])..'}')
end
return announce(job, 6, false)
"""

# ARGV: job -> position or false
POSITION = PREAMBLE + """
return position(ARGV[1])
"""

# ARGV: job, then the estimate arguments -> {position, estimate} or {false, false}
PLACEMENT = PREAMBLE + """
return placement(ARGV[1], 2)
"""

# ARGV: groups of six (job, model, own default, platform default, now ms, freshness ms), one
# per job -> {position, estimate, ...} (false, false for a job no longer queued). The live
# positions of every watched job in one round trip.
PLACEMENTS = PREAMBLE + """
local out = {}
for i = 1, #ARGV, 6 do
  local placed = placement(ARGV[i], i + 1)
  out[#out + 1] = placed[1]
  out[#out + 1] = placed[2]
end
return out
"""

# ARGV: model, platform, position, then the estimate arguments -> seconds
ESTIMATE = PREAMBLE + """
return estimate(tonumber(ARGV[3]), ARGV[2], 4)
"""

# ARGV: model, platform, seconds, weight: moving averages of the model and the platform
RECORD = """
for _, field in ipairs({ARGV[1], 'platform:'..ARGV[2]}) do
  local old = tonumber(redis.call('HGET', 'genova:durations', field))
  local value = tonumber(ARGV[3])
  if old then value = (1 - tonumber(ARGV[4])) * old + tonumber(ARGV[4]) * value end
  redis.call('HSET', 'genova:durations', field, string.format('%.3f', value))
end
return 1
"""

CLAIM_COMMON = """
-- Run job on p, unless its user already runs their cap (possible only in a race with a
-- claim on the other platform): then it goes back to held and the caller tries the next.
local function run(job, p, worker, deadline, lease)
  local m = redis.call('HMGET', P..'job:'..job, 'u', 's')
  local u, s = m[1], tonumber(m[2])
  if redis.call('ZCARD', P..'urun:'..u) >= cap_of(u) then
    make_held(job, p, u, s)
    return false
  end
  redis.call('ZREM', P..'ready:'..p, job)
  redis.call('ZREM', P..'uready:'..u..':'..p, job)
  redis.call('ZADD', P..'urun:'..u, s, job)
  redis.call('HSET', P..'job:'..job, 'st', 'running', 'lease', lease, 'w', worker)
  redis.call('ZADD', P..'leases', deadline, job)
  enforce_cap(u)
  moved(p)
  return {job, lease}
end
"""

# ARGV: platform, worker, deadline_ms, lease -> {job, lease} or false. The lease (a fencing
# token) is made by the caller, unique across Redis restarts.
CLAIM = PREAMBLE + CLAIM_COMMON + """
for _ = 1, 100 do
  local top = redis.call('ZRANGE', P..'ready:'..ARGV[1], 0, 0)
  if not top[1] then return false end
  local got = run(top[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
  if got then return got end
end
return false
"""

# ARGV: platform, user, worker, deadline_ms, lease -> the user's best ready job there.
# A user's ready jobs number at most their plan's concurrency cap, so this loop is short.
CLAIM_USER = PREAMBLE + CLAIM_COMMON + """
for _, job in ipairs(redis.call('ZRANGE', P..'uready:'..ARGV[2]..':'..ARGV[1], 0, -1)) do
  local got = run(job, ARGV[1], ARGV[3], ARGV[4], ARGV[5])
  if got then return got end
end
return false
"""

# ARGV: job, lease ('' = any) -> 1 done, 0 unknown job, -1 lease mismatch (fenced)
FINISH = PREAMBLE + """
local job, lease = ARGV[1], ARGV[2]
if redis.call('EXISTS', P..'job:'..job) == 0 then return 0 end
if lease ~= '' and redis.call('HGET', P..'job:'..job, 'lease') ~= lease then return -1 end
local u = forget(job)
promote(u)
return 1
"""

# ARGV: job, lease, then the announce arguments -> 1 back in line with its original score,
# 0 unknown, -1 fenced
REQUEUE = PREAMBLE + """
local job, lease = ARGV[1], ARGV[2]
local m = redis.call('HMGET', P..'job:'..job, 'u', 'p', 's', 'lease')
if not m[1] then return 0 end
if m[4] ~= lease then return -1 end
redis.call('ZREM', P..'leases', job)
redis.call('ZREM', P..'urun:'..m[1], job)
redis.call('HDEL', P..'job:'..job, 'lease', 'w')
make_held(job, m[2], m[1], tonumber(m[3]))
moved(m[2])
rebalance(m[1], m[2], tonumber(m[3]))
promote(m[1])
announce(job, 3, true)
return 1
"""

# ARGV: job, lease, deadline_ms -> 1 extended, 0 the lease is no longer ours, -1 Redis does
# not know the job (it lost its state): the caller asks SQL and re-adopts
HEARTBEAT = PREAMBLE + """
if redis.call('EXISTS', P..'job:'..ARGV[1]) == 0 then return -1 end
if redis.call('HGET', P..'job:'..ARGV[1], 'lease') ~= ARGV[2] then return 0 end
redis.call('ZADD', P..'leases', 'XX', ARGV[3], ARGV[1])
return 1
"""

# ARGV: job, user, platform, score, lease, worker, deadline_ms, cap
# Re-register a running job after Redis lost it (restart); keeps the SQL lease.
ADOPT_RUNNING = PREAMBLE + """
local job, u, p = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', P..'job:'..job) == 1 then return 0 end
redis.call('SET', P..'cap:'..u, ARGV[8])
redis.call('HSET', P..'job:'..job, 'u', u, 'p', p, 's', ARGV[4], 'st', 'running',
           'lease', ARGV[5], 'w', ARGV[6])
redis.call('ZADD', P..'urun:'..u, ARGV[4], job)
redis.call('ZADD', P..'leases', ARGV[7], job)
enforce_cap(u)
return 1
"""

# ARGV: user, cap -> 1. A plan change: demote or promote the user's jobs to the new cap.
SET_CAP = PREAMBLE + """
redis.call('SET', P..'cap:'..ARGV[1], ARGV[2])
enforce_cap(ARGV[1])
promote(ARGV[1])
return 1
"""

# ARGV: now_ms, limit -> flat list job, lease, job, lease ...
EXPIRED = PREAMBLE + """
local jobs = redis.call('ZRANGEBYSCORE', P..'leases', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, job in ipairs(jobs) do
  table.insert(out, job)
  table.insert(out, redis.call('HGET', P..'job:'..job, 'lease') or '')
end
return out
"""

# -> next sequence number, or -1 when Redis lost its state and seq must be re-seeded from SQL
NEXT_SEQ = """
if redis.call('EXISTS', 'genova:epoch') == 0 then return -1 end
return redis.call('INCR', 'genova:seq')
"""

# ARGV: floor (max seq known to SQL), epoch id -> 1 seeded now, 0 already seeded
SEED = """
if redis.call('EXISTS', 'genova:epoch') == 1 then return 0 end
local cur = tonumber(redis.call('GET', 'genova:seq') or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', 'genova:seq', ARGV[1]) end
redis.call('SET', 'genova:epoch', ARGV[2])
return 1
"""
