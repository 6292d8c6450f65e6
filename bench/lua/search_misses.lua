-- A search the server has not answered before on (nearly) every request: word, page size and
-- page drawn from 25 x 100 x 20 combinations. Run with one connection, it measures what a
-- search costs when it misses every cache, without queueing behind other requests.
request = function()
  local word = search_words[math.random(#search_words)]
  local query = "?q=" .. word .. "&per_page=" .. math.random(1, 100) .. "&page=" .. math.random(1, 20)
  return wrk.format(nil, wrk.path .. query)
end
