"""Peer for bench/batch.py: the openai SDK's AsyncOpenAI doing what `llmcli batch run` does.

Usage: peer_async_openai.py BASE_URL PARALLEL FILE

Reads FILE's OpenAI batch lines (`{"custom_id", "method", "url", "body"}`, chat only),
sends every body with `client.chat.completions.create(**body)` under an
`asyncio.Semaphore(PARALLEL)`, and writes one line per row to stdout in completion order,
in OpenAI's batch output shape: `{"id", "custom_id", "response": {"status_code",
"request_id", "body"}, "error"}`. The script a careful user would write: one client
(its default pool, retries and timeout), plain `asyncio.run`, `json` both ways, the SDK's
own `to_dict()` for the body. It runs in bench/batch.py's venv, where openai is installed.
"""

import asyncio
import json
import sys
import uuid
from typing import Any

import openai


async def one(client: openai.AsyncOpenAI, gate: asyncio.Semaphore, line: str, out: Any) -> None:
    row = json.loads(line)
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    async with gate:
        try:
            reply = await client.chat.completions.create(**row["body"])
            body = reply.to_dict()
            response = {"status_code": 200, "request_id": reply._request_id, "body": body}
        except openai.APIStatusError as e:
            request_id = e.response.headers.get("x-request-id")
            response = {"status_code": e.status_code, "request_id": request_id, "body": e.body}
        except openai.APIError as e:
            error = {"code": type(e).__name__, "message": str(e)}
    result = {
        "id": f"batch_req_{uuid.uuid4().hex}",
        "custom_id": row["custom_id"],
        "response": response,
        "error": error,
    }
    out.write(json.dumps(result) + "\n")


async def main() -> None:
    base_url, parallel, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = openai.AsyncOpenAI(base_url=base_url, api_key="unused")
    gate = asyncio.Semaphore(parallel)
    out = sys.stdout
    with open(path, encoding="utf-8") as f:
        await asyncio.gather(*(one(client, gate, line, out) for line in f if line.strip()))
    await client.close()
    out.flush()


if __name__ == "__main__":
    asyncio.run(main())
