"""Peer for bench/run.py, used only when `import openai` works: the official SDK streaming.

Usage: peer_openai.py BASE_URL MAX_TOKENS
"""

import sys

import openai


def main() -> None:
    base_url, max_tokens = sys.argv[1], int(sys.argv[2])
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="lorem",
        messages=[{"role": "user", "content": "go"}],
        max_tokens=max_tokens,
        stream=True,
    )
    out = sys.stdout
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                out.write(choice.delta.content)
                out.flush()
    out.write("\n")


if __name__ == "__main__":
    main()
