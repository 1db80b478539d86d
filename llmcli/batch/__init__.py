"""Batch runs: many requests from JSONL lines, N in flight (DESIGN.md, "Batch runs").

``lines`` reads input lines into rows, ``results`` makes output lines and reads an output
file for ``--resume``, ``limits`` holds ``--rpm``/``--tpm``, ``runner`` sends them::

    import llmcli
    client = llmcli.Client("mock")
    for row in llmcli.batch.run(["hello", "world"], client=client, parallel=16, defaults=...):
        print(row["custom_id"], row["response"]["status_code"])
"""

from llmcli.batch.answering import Stopped
from llmcli.batch.lines import Defaults, Row
from llmcli.batch.runner import Tally, run

__all__ = ["Defaults", "Row", "Stopped", "Tally", "run"]
