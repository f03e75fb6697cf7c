-- wrk script: the same small chat completion for every request. BENCH_MODEL picks the model.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"' .. (os.getenv("BENCH_MODEL") or "bench-model") ..
  '","messages":[{"role":"user","content":"Summarise the plot of Hamlet in one sentence."}],' ..
  '"max_tokens":16}'

-- Any non-2xx answer is counted by wrk as "Non-2xx or 3xx responses"; the script fails on it.
