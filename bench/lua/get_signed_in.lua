-- GET as the benchmark account (BENCH_TOKEN): a request with credentials is never replayed,
-- so each one runs Flask, the token check and the account's lookup.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
