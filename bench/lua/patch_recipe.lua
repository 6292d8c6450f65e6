-- PATCH the benchmark account's recipes, a random one each time (no If-Match: blind writes).
-- Racing writes to one row are refused with 409 (the version column), so the load is spread.
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"cook_time": 50, "description": "Updated by the benchmark."}'
local ids = {}
for id in string.gmatch(os.getenv("BENCH_RECIPE_IDS"), "%d+") do
  ids[#ids + 1] = id
end
math.randomseed(os.time())
request = function()
  return wrk.format(nil, wrk.path .. "/" .. ids[math.random(#ids)])
end
