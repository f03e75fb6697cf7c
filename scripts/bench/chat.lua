-- wrk script: the same chat completion for every request. BENCH_MODEL picks the model,
-- BENCH_TENANT (optional) the x-router-tenant header;
-- BENCH_PROMPT_BYTES (default: one short sentence) makes the user message that long, a question
-- followed by pasted code, as a real "auto" request would carry.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local tenant = os.getenv("BENCH_TENANT") or ""
if tenant ~= "" then wrk.headers["x-router-tenant"] = tenant end
local content = "Summarise the plot of Hamlet in one sentence."
local bytes = tonumber(os.getenv("BENCH_PROMPT_BYTES") or "0")
if bytes > 0 then
  content = "Can you look at this Python function and tell me why it returns None when the " ..
    "list is empty, and how to fix it without breaking the callers? "
  while #content < bytes do
    content = content .. "def first_even(xs):\\n    for x in xs:\\n        if x % 2 == 0:\\n" ..
      "            return x\\n"
  end
  content = string.sub(content, 1, bytes)
end
wrk.body = '{"model":"' .. (os.getenv("BENCH_MODEL") or "bench-model") ..
  '","messages":[{"role":"user","content":"' .. content .. '"}],"max_tokens":16}'

-- Any non-2xx answer is counted by wrk as "Non-2xx or 3xx responses"; the script fails on it.
