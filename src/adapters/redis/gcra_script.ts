/**
 * GCRA as one Lua script over a batch of decisions, so that each decision is atomic on the Redis server (scripts run
 * serially) and a whole batch costs one round trip and one script call. It mirrors `decide` in
 * src/ratelimit/gcra.ts line for line, in integer microseconds (Lua numbers are doubles: exact below 2^53, and the
 * limit check bounds every value far below that). Decisions run in order, so two decisions on one key in one batch
 * see each other exactly as two separate calls would.
 *
 * KEYS[i] the i-th decision's key (at most LUAI_MAXCSTACK, 8000, per batch: `unpack` passes them to MGET).
 * ARGV: now (µs; empty = the server's TIME, read once per batch), TTL slack (ms), `1` when every key of the batch is
 * distinct (`0` otherwise), the number L of distinct limits in the batch, then L quadruples (emission interval µs,
 * burst, cost, wait µs), then, when L > 1, for each decision the 1-based index of its quadruple. A batch usually holds
 * a handful of limits, so a decision costs one argument instead of four, and none when the whole batch shares one
 * limit (the common case: about 6 % of the script's Redis CPU).
 *
 * `wait` is 0 except for a throttled gateway limit: a request that would conform within `wait` is admitted at that
 * future time (a reservation: the TAT advances as for any admission), so several processes throttling one key hand out
 * distinct, exactly spaced slots and never poll.
 *
 * Returns one number per decision, the key's TAT relative to now (µs): `tat - now ≥ 0` when admitted (the new TAT;
 * above the capacity `(burst + 1) · interval` for a reservation, which waits the excess), `-1 - (tat - now)` when
 * refused (the unchanged TAT). The caller derives remaining, retry, reset and delay from it and the limit it sent with
 * `decideMicros`, the arithmetic of `decide` (src/adapters/redis/limiter_store.ts `toDecision`).
 * A key named more than once in a batch is written once, with its last TAT, after every decision is made (a hot key
 * decided many times in a batch costs one SET); the script learns of such keys from the caller's flag, because
 * tracking them costs about a tenth of its Redis CPU, so a batch of distinct keys (the usual one) writes each key as
 * it decides it. An idle TAT is never written.
 *
 * Expiry on a grid of one second (Q): a key written with PX lives until the end of the second after its TAT's, i.e.
 * `(floor(tat / Q) + 2) · Q` (plus the slack), so it outlives its TAT by 1–2 s, never less. Invariant: a key holding
 * TAT s expires no earlier than `(floor(s / Q) + 1) · Q`. A rewrite whose new TAT is in the same second as the stored
 * one therefore keeps the key's expiry (SET … KEEPTTL) and stays inside the invariant; only a TAT that moved to a later
 * second pays for a new expiry. A key under its limit and busy moves second once a second, so most rewrites skip the
 * expiry bookkeeping, and a key that would have expired between two requests a few milliseconds apart is kept instead
 * of deleted and created again (on the benchmark machine SET with PX costs Redis 0.6 µs more than with KEEPTTL, before
 * counting the churn). The price is memory: a key stays 1–2 s after its TAT passes. A stored TAT that has already
 * passed reads as no TAT, exactly as a missing key. A key written by the previous script (V3: expiry exactly at its
 * TAT) may keep that shorter expiry through one same-second rewrite during an upgrade: it can then vanish up to 1 s
 * early, once, forgetting at most that second of its TAT.
 *
 * A TAT is handed to SET as a Lua number: Redis converts it exactly (`%.17g` before 7.0, the shortest round-trip form
 * since: plain digits either way for integers below 2^53), where formatting it in Lua first made and interned one more
 * string per write.
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
local unique = ARGV[3] == '1'
local nl = tonumber(ARGV[4])
local intervals, bursts, costs, waits = {}, {}, {}, {}
for j = 1, nl do
  local a = 4 * j + 1
  intervals[j] = tonumber(ARGV[a])
  bursts[j] = tonumber(ARGV[a + 1])
  costs[j] = tonumber(ARGV[a + 2])
  waits[j] = tonumber(ARGV[a + 3])
end
local first = 4 + 4 * nl
local Q = 1000000
-- Writes a key's new TAT; was: the TAT it held when the batch began (nil: none).
local function write(key, tat, was)
  local second = math.floor(tat / Q)
  if was and second == math.floor(was / Q) then
    redis.call('SET', key, tat, 'KEEPTTL')
  else
    redis.call('SET', key, tat, 'PX', math.ceil(((second + 2) * Q - now) / 1000) + slack)
  end
end
local out = {}
local stored = redis.call('MGET', unpack(KEYS))
-- Only when a key may come twice: its latest TAT in the batch (seen), the TAT it held when the batch began (held,
-- false: none), and the keys to write once each, after every decision, with their last TAT (written, queued).
local seen, held, written, queued = {}, {}, {}, {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local j = 1
  if nl > 1 then j = tonumber(ARGV[first + i]) end
  local interval = intervals[j]
  local burst = bursts[j]
  local cost = costs[j]
  local wait = waits[j]
  local capacity = (burst + 1) * interval
  local tat
  if not unique then tat = seen[key] end
  if tat == nil and stored[i] then tat = tonumber(stored[i]) end
  if not unique and held[key] == nil then held[key] = tat or false end
  local base = now
  if tat and tat > now then base = tat end
  local never = cost > burst + 1
  local nxt = base
  if not never then nxt = base + cost * interval end
  if (not never) and nxt - now <= capacity + wait then
    if unique then
      if nxt > now then write(key, nxt, tat) end
    else
      if nxt > now and not queued[key] then
        queued[key] = true
        written[#written + 1] = key
      end
      seen[key] = nxt
    end
    out[i] = nxt - now
  else
    out[i] = -1 - (base - now)
  end
end
for w = 1, #written do
  local key = written[w]
  write(key, seen[key], held[key] or nil)
end
return out
`;
