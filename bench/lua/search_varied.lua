-- A search from 25 words x 20 pages on each request: after the first pass, most are replays.
request = function()
  local word = search_words[math.random(#search_words)]
  local page = math.random(1, 20)
  return wrk.format(nil, wrk.path .. "?q=" .. word .. "&page=" .. page)
end
