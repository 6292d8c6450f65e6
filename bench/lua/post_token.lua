-- Log in as the benchmark account: POST /tokens with its password (argon2id at the
-- production cost, checked on every request).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"username": "%s", "password": "%s"}',
  os.getenv("BENCH_USERNAME"), os.getenv("BENCH_PASSWORD"))
