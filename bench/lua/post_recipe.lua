-- POST a new draft recipe (the token comes from the environment).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"name": "Bench Stew", "num_of_servings": 4, "cook_time": 45, ' ..
  '"ingredients": ["2 carrots", "1 onion", "500 g beef"], ' ..
  '"directions": ["Chop.", "Brown the beef.", "Simmer for 40 minutes."], "tags": ["stew"]}'
