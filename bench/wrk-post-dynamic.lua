-- wrk script: wrk-post-keyed.lua without the Idempotency-Key header (the
-- same request() callback, so the same client cost): the A side of
-- `bench/intake_ab.py --keyed-b`.
keyed = false
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "wrk-post-keyed.lua")
