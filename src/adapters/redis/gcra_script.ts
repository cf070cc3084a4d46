/**
 * GCRA as one Lua script, so that each decision is atomic on the Redis server (scripts run serially). It mirrors
 * `decide` in src/ratelimit/gcra.ts line for line, in integer microseconds (Lua numbers are doubles: exact below
 * 2^53, and the limit check bounds every value far below that).
 *
 * KEYS[1] the key. ARGV: emission interval (µs), burst, cost, now (µs; empty = the server's TIME), TTL slack (ms).
 * Returns { allowed (1/0), remaining, retry after (µs; -1 = never), reset after (µs) }.
 * The key expires (PX) when its TAT passes, plus the slack; an idle TAT is never written.
 *
 * Redis ≥ 5 replicates script effects, so reading TIME before writing is allowed (`replicate_commands` is called for
 * older servers, and is a no-op since 7).
 */
export const GCRA_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[4])
end
local capacity = (burst + 1) * interval
local stored = redis.call('GET', KEYS[1])
local base = now
if stored then
  local tat = tonumber(stored)
  if tat and tat > now then base = tat end
end
local never = cost > burst + 1
local nxt = base
if not never then nxt = base + cost * interval end
if (not never) and nxt - now <= capacity then
  if nxt > now then
    local ttl = math.ceil((nxt - now) / 1000) + tonumber(ARGV[5])
    redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', ttl)
  end
  return { 1, math.floor((capacity - (nxt - now)) / interval), 0, nxt - now }
end
local retry = -1
if not never then retry = nxt - capacity - now end
return { 0, math.floor((capacity - (base - now)) / interval), retry, base - now }
`;
