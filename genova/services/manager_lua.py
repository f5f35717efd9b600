"""Lua scripts of the job manager. Each runs atomically inside Redis.

Keys (prefix ``genova:``), per platform ``p`` and user ``u``:

- ``ready:p``      ZSET  jobs that may be claimed now, by score (priority desc, seq asc)
- ``held:p:u``     ZSET  the user's jobs waiting for one of their concurrency slots
- ``uready:u``     ZSET  the user's jobs in any ``ready:*``
- ``uactive:u``    ZSET  the user's ready and running jobs: its size is the slots in use
- ``cap:u``        STR   the user's concurrent-job limit
- ``job:j``        HASH  u, p, s (score), st (held|ready|running), lease, w (worker)
- ``leases``       ZSET  running jobs by lease deadline (ms): expired = worker lost
- ``wake:p``       LIST  one token per job made ready; idle workers block on it
- ``seq``, ``lease_seq``, ``epoch``

A user's best waiting jobs are ready, up to their free slots; the rest are held and do not
block anyone else. Every operation touches O(log n) entries: nothing scans the queue.
"""

PREAMBLE = """
local P = 'genova:'
local PLATFORMS = {'flow', 'freepik'}

local function wake(p)
  redis.call('RPUSH', P..'wake:'..p, '1')
  redis.call('LTRIM', P..'wake:'..p, -256, -1)
end

local function make_ready(job, p, u, s)
  redis.call('ZREM', P..'held:'..p..':'..u, job)
  redis.call('ZADD', P..'ready:'..p, s, job)
  redis.call('ZADD', P..'uready:'..u, s, job)
  redis.call('ZADD', P..'uactive:'..u, s, job)
  redis.call('HSET', P..'job:'..job, 'st', 'ready')
  wake(p)
end

local function make_held(job, p, u, s)
  redis.call('ZREM', P..'ready:'..p, job)
  redis.call('ZREM', P..'uready:'..u, job)
  redis.call('ZREM', P..'uactive:'..u, job)
  redis.call('ZADD', P..'held:'..p..':'..u, s, job)
  redis.call('HSET', P..'job:'..job, 'st', 'held')
end

-- Fill the user's free slots with their best held jobs, across platforms.
local function promote(u)
  local cap = tonumber(redis.call('GET', P..'cap:'..u) or '1')
  while redis.call('ZCARD', P..'uactive:'..u) < cap do
    local best, bestp, bests = nil, nil, nil
    for _, p in ipairs(PLATFORMS) do
      local h = redis.call('ZRANGE', P..'held:'..p..':'..u, 0, 0, 'WITHSCORES')
      if h[1] and (bests == nil or tonumber(h[2]) < bests) then
        best, bestp, bests = h[1], p, tonumber(h[2])
      end
    end
    if not best then return end
    make_ready(best, bestp, u, bests)
  end
end

-- A better job arriving for a user at their cap swaps places with their worst ready job,
-- so that a user's ready jobs are always their best ones.
local function rebalance(u, job, s)
  local cap = tonumber(redis.call('GET', P..'cap:'..u) or '1')
  if redis.call('ZCARD', P..'uactive:'..u) < cap then return end
  local worst = redis.call('ZRANGE', P..'uready:'..u, -1, -1, 'WITHSCORES')
  if worst[1] and tonumber(worst[2]) > s then
    local wp = redis.call('HGET', P..'job:'..worst[1], 'p')
    make_held(worst[1], wp, u, tonumber(worst[2]))
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

local function forget(job)
  local m = redis.call('HMGET', P..'job:'..job, 'u', 'p')
  if not m[1] then return nil end
  local u, p = m[1], m[2]
  redis.call('ZREM', P..'ready:'..p, job)
  redis.call('ZREM', P..'held:'..p..':'..u, job)
  redis.call('ZREM', P..'uready:'..u, job)
  redis.call('ZREM', P..'uactive:'..u, job)
  redis.call('ZREM', P..'leases', job)
  redis.call('DEL', P..'job:'..job)
  return u
end
"""

# ARGV: job, user, platform, score, cap -> position (idempotent: an existing job keeps its place)
SUBMIT = PREAMBLE + """
local job, u, p, s = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
redis.call('SET', P..'cap:'..u, ARGV[5])
if redis.call('EXISTS', P..'job:'..job) == 0 then
  redis.call('HSET', P..'job:'..job, 'u', u, 'p', p, 's', ARGV[4], 'st', 'held')
  redis.call('ZADD', P..'held:'..p..':'..u, s, job)
  rebalance(u, job, s)
  promote(u)
end
return position(job)
"""

# ARGV: job -> position or false
POSITION = PREAMBLE + """
return position(ARGV[1])
"""

# ARGV: platform, worker, deadline_ms -> {job, lease} or false
CLAIM = PREAMBLE + """
local p = ARGV[1]
local popped = redis.call('ZPOPMIN', P..'ready:'..p)
if not popped[1] then return false end
local job = popped[1]
local u = redis.call('HGET', P..'job:'..job, 'u')
if not u then return false end
redis.call('ZREM', P..'uready:'..u, job)
local lease = tostring(redis.call('INCR', P..'lease_seq'))
redis.call('HSET', P..'job:'..job, 'st', 'running', 'lease', lease, 'w', ARGV[2])
redis.call('ZADD', P..'leases', ARGV[3], job)
return {job, lease}
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

# ARGV: job, lease -> 1 back in line with its original score, 0 unknown, -1 fenced
REQUEUE = PREAMBLE + """
local job, lease = ARGV[1], ARGV[2]
local m = redis.call('HMGET', P..'job:'..job, 'u', 'p', 's', 'lease')
if not m[1] then return 0 end
if m[4] ~= lease then return -1 end
redis.call('ZREM', P..'leases', job)
redis.call('HDEL', P..'job:'..job, 'lease', 'w')
make_held(job, m[2], m[1], tonumber(m[3]))
rebalance(m[1], job, tonumber(m[3]))
promote(m[1])
return 1
"""

# ARGV: job, lease, deadline_ms -> 1 extended, 0 the lease is no longer ours
HEARTBEAT = PREAMBLE + """
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
redis.call('ZADD', P..'uactive:'..u, ARGV[4], job)
redis.call('ZADD', P..'leases', ARGV[7], job)
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
