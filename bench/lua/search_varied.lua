-- A different search (word and page) on each request, so most miss the server cache.
local words = {"chicken", "soup", "lemon", "garlic", "curry", "tofu", "pasta", "salad",
  "beef", "rice", "cake", "spicy", "mushroom", "salmon", "bean", "coconut", "ginger",
  "tomato", "chocolate", "lentil", "honey", "basil", "pork", "egg", "cheese"}
math.randomseed(os.time())
request = function()
  local word = words[math.random(#words)]
  local page = math.random(1, 20)
  return wrk.format(nil, wrk.path .. "?q=" .. word .. "&page=" .. page)
end
