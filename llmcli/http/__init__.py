"""The HTTP layer: a session with httpx's API (deadlines, retries, redirects) over
llmcli's own HTTP/1.1 transport on http.client, its connection pool, response heads,
chunked bodies, content decoding, the deadline watchdog, retry advice, the rate
governor, request values and recording. Imports nothing of llmcli above it.
"""
