-- Ask the paths of a file (BENCH_PATHS, one a line, written by run.py) in its order, each once:
-- thread i of n asks paths i, i + n, i + 2n ..., and starts over only when the file runs out.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  paths[#paths + 1] = line
end
local threads = 0
setup = function(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
local step = tonumber(os.getenv("BENCH_THREADS"))
local asked = 0
request = function()
  local path = paths[(offset + asked * step) % #paths + 1]
  asked = asked + 1
  return wrk.format(nil, path)
end
