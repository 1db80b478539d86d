"""Peer for bench/run.py: the smallest reasonable httpx streaming client.

Usage: peer_httpx.py BASE_URL MAX_TOKENS

POSTs one streaming `lorem` chat request, splits the body on blank lines (no
`iter_lines()`), `json.loads` each `data:` payload and writes `delta.content` to stdout,
flushing once per network read.
"""

import json
import sys

# Same start-up trick llmcli uses (llmcli/http/session.py): httpx/__init__ otherwise imports its
# optional CLI (rich, pygments), ~70 ms. Keeps the peer as fast as it can reasonably be.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402


def main() -> None:
    base_url, max_tokens = sys.argv[1], int(sys.argv[2])
    body = {
        "model": "lorem",
        "messages": [{"role": "user", "content": "go"}],
        "max_tokens": max_tokens,
        "stream": True,
    }
    out = sys.stdout.buffer
    pending = b""
    with httpx.stream("POST", base_url + "/chat/completions", json=body, timeout=60) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            *events, pending = (pending + chunk).split(b"\n\n")
            for event in events:
                if not event.startswith(b"data: ") or event == b"data: [DONE]":
                    continue
                for choice in json.loads(event[6:])["choices"]:
                    text = choice["delta"].get("content")
                    if text:
                        out.write(text.encode())
            out.flush()
    out.write(b"\n")


if __name__ == "__main__":
    main()
