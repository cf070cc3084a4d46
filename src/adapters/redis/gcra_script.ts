/**
 * GCRA as one Lua script over a batch of decisions, so that each decision is atomic on the Redis server (scripts run
 * serially) and a whole batch costs one round trip and one script call. It mirrors `decide` in
 * src/ratelimit/gcra.ts line for line, in integer microseconds (Lua numbers are doubles: exact below 2^53, and the
 * limit check bounds every value far below that). Decisions run in order, so two decisions on one key in one batch
 * see each other exactly as two separate calls would.
 *
 * KEYS[i] the i-th decision's key (at most LUAI_MAXCSTACK, 8000, per batch: `unpack` passes them to MGET). ARGV: now (µs; empty = the server's TIME, read once per batch), TTL slack (ms), then
 * for each decision: emission interval (µs), burst, cost.
 * Returns a flat list, four numbers per decision: allowed (1/0), remaining, retry after (µs; -1 = never), reset after
 * (µs). A key expires (PX) when its TAT passes, plus the slack; an idle TAT is never written.
 *
 * Redis ≥ 5 replicates script effects, so reading TIME before writing is allowed (`replicate_commands` is called for
 * older servers, and is a no-op since 7). All keys of a batch go to one server: Redis Cluster is not supported.
 */
export const GCRA_BATCH_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local slack = tonumber(ARGV[2])
local out = {}
-- One MGET for the batch; a key decided twice in the batch sees its first decision through seen.
local stored = redis.call('MGET', unpack(KEYS))
local seen = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local a = 3 * i
  local interval = tonumber(ARGV[a])
  local burst = tonumber(ARGV[a + 1])
  local cost = tonumber(ARGV[a + 2])
  local capacity = (burst + 1) * interval
  local tat = seen[key]
  if tat == nil and stored[i] then tat = tonumber(stored[i]) end
  local base = now
  if tat and tat > now then base = tat end
  local never = cost > burst + 1
  local nxt = base
  if not never then nxt = base + cost * interval end
  local o = 4 * (i - 1)
  if (not never) and nxt - now <= capacity then
    seen[key] = nxt
    if nxt > now then
      local ttl = math.ceil((nxt - now) / 1000) + slack
      redis.call('SET', key, string.format('%.0f', nxt), 'PX', ttl)
    end
    out[o + 1] = 1
    out[o + 2] = math.floor((capacity - (nxt - now)) / interval)
    out[o + 3] = 0
    out[o + 4] = nxt - now
  else
    local retry = -1
    if not never then retry = nxt - capacity - now end
    out[o + 1] = 0
    out[o + 2] = math.floor((capacity - (base - now)) / interval)
    out[o + 3] = retry
    out[o + 4] = base - now
  end
end
return out
`;
