-- PATCH one recipe over and over (no If-Match: last writer wins).
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"cook_time": 50, "description": "Updated by the benchmark."}'
