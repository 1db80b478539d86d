"""``llmcli serve``: the offline gateway on 127.0.0.1, for tests, demos and CI."""

import sys
from typing import Annotated

import typer


def serve(
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0: any free port).")
    ] = 8080,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    profile: Annotated[str, typer.Option("--profile", help="Which gateway to imitate.")] = "mock",
    fault: Annotated[
        str | None,
        typer.Option(
            "--fault",
            metavar="SPEC",
            help="Inject faults, e.g. 'status=429;times=1;retry_after=1'.",
        ),
    ] = None,
) -> None:
    """Run the offline gateway until interrupted: deterministic models (echo, lorem, think,
    tools, unicode, embed-small, embed-large), the wire format of a seed gateway with
    --profile, and injectable faults. Prints its base URL on stdout once it listens.
    -g mock runs the same gateway in-process, without serve.

    \b
    Examples:
      llmcli serve --port 8080 &
      echo hi | llmcli chat --base-url http://127.0.0.1:8080/v1 -m echo
      seq 3 | xargs -I{} llmcli chat --base-url http://127.0.0.1:8080/v1 -m lorem 'item {}'
    """
    from llmcli import gateway

    def ready(base_url: str) -> None:
        sys.stdout.write(base_url + "\n")
        sys.stdout.flush()

    gateway.serve_forever(profile, host=host, port=port, faults=fault, ready=ready)
