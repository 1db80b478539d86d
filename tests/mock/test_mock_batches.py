"""The offline gateway's batch APIs over real HTTP: OpenAI's Files + Batches and
Anthropic's Message Batches, their statuses over time, result files, validation, cancel,
paging, the profiles that serve them, and batches kept in a directory across gateways.

Nothing here sleeps: a batch runs an hour of the gateway's clock, which the tests move on
(``advance_clock``) to the moment they look at, so the statuses seen are exact and the
same on a loaded machine as on an idle one.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import llmcli

from llmcli import mock as offline

SECONDS = 3600.0  # how long a batch runs on these gateways, on their clock
TENTH = SECONDS / 10  # validating; and cancelling
CHAT_URL = "/v1/chat/completions"


@contextlib.contextmanager
def serving(batch_dir: Path) -> Iterator[tuple[offline.RunningGateway, httpx.Client]]:
    """A gateway keeping its batches in ``batch_dir``, and a client of it."""
    with (
        offline.start(batch_seconds=SECONDS, batch_dir=batch_dir) as running,
        httpx.Client(base_url=running.base_url, timeout=10) as c,
    ):
        yield running, c


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[offline.RunningGateway]:
    with offline.start(batch_seconds=SECONDS, batch_dir=tmp_path / "batches") as running:
        yield running


@pytest.fixture
def client(gw: offline.RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        yield c


def chat(content: str, model: str = "echo") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}]}


def line(custom_id: str, body: dict[str, Any], url: str = CHAT_URL) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def jsonl(rows: list[Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def upload(c: httpx.Client, data: bytes, purpose: str = "batch") -> httpx.Response:
    return c.post("/files", files={"file": ("in.jsonl", data)}, data={"purpose": purpose})


def submit(c: httpx.Client, rows: list[Any], **extra: Any) -> dict[str, Any]:
    file_id = upload(c, jsonl(rows)).json()["id"]
    body = {"input_file_id": file_id, "endpoint": CHAT_URL, "completion_window": "24h"}
    r = c.post("/batches", json={**body, **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


def walk(
    gw: offline.RunningGateway, c: httpx.Client, path: str, *steps: float
) -> tuple[dict[str, Any], list[str]]:
    """The status of the batch at ``path`` now and after each step of the gateway's clock
    (seconds more); the last object too."""
    seen: list[str] = []
    for step in (0.0, *steps):
        gw.advance_clock(step)
        obj = c.get(path).json()
        seen.append(obj.get("status") or obj["processing_status"])
    return obj, seen


def read_lines(data: bytes) -> list[dict[str, Any]]:
    assert data.endswith(b"\n")
    return [orjson.loads(x) for x in data.splitlines()]


# ---- OpenAI ---------------------------------------------------------------------------------


def test_openai_batch_runs_to_completed_with_output_and_error_files(
    gw: offline.RunningGateway, client: httpx.Client
) -> None:
    prompts = [f"row {i}" for i in range(12)]
    rows = [line(f"r{i}", chat(p)) for i, p in enumerate(prompts)]
    rows += [line("bad-model", chat("x", "no-such-model")), line("expire-me", chat("late"))]
    up = upload(client, jsonl(rows))
    assert up.status_code == 200
    file_obj = up.json()
    assert re.fullmatch(r"file-[0-9a-f]{24}", file_obj["id"])
    assert file_obj == {
        "id": file_obj["id"],
        "object": "file",
        "bytes": len(jsonl(rows)),
        "created_at": file_obj["created_at"],
        "filename": "in.jsonl",
        "purpose": "batch",
        "status": "processed",
        "status_details": None,
        "expires_at": file_obj["created_at"] + 30 * 86400,
    }
    assert client.get(f"/files/{file_obj['id']}").json() == file_obj
    assert client.get(f"/files/{file_obj['id']}/content").content == jsonl(rows)

    body = {"input_file_id": file_obj["id"], "endpoint": CHAT_URL, "completion_window": "24h"}
    created = client.post("/batches", json={**body, "metadata": {"job": "nightly"}}).json()
    assert re.fullmatch(r"batch_[0-9a-f]{32}", created["id"])
    nulls = ("in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at")
    assert created == {
        "id": created["id"],
        "object": "batch",
        "endpoint": CHAT_URL,
        "errors": None,
        "input_file_id": file_obj["id"],
        "completion_window": "24h",
        "status": "validating",
        "output_file_id": None,
        "error_file_id": None,
        "created_at": created["created_at"],
        "expires_at": created["created_at"] + 86400,
        **dict.fromkeys(nulls, None),
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
        "metadata": {"job": "nightly"},
        "model": "echo",
    }

    # a tenth validating, in progress to nine tenths, then finalizing: looked at mid-way
    batch, seen = walk(gw, client, f"/batches/{created['id']}", 1800, 1620, 360)
    assert seen == ["validating", "in_progress", "finalizing", "completed"]
    assert batch["request_counts"] == {"total": 14, "completed": 12, "failed": 2}
    for key in ("in_progress_at", "finalizing_at", "completed_at"):
        assert isinstance(batch[key], int)
    assert batch["failed_at"] is None and batch["errors"] is None

    out_meta = client.get(f"/files/{batch['output_file_id']}").json()
    assert (out_meta["purpose"], out_meta["filename"]) == (
        "batch_output",
        f"{batch['id']}_output.jsonl",
    )
    output = read_lines(client.get(f"/files/{batch['output_file_id']}/content").content)
    assert out_meta["bytes"] == len(jsonl(output))
    assert sorted(r["custom_id"] for r in output) == sorted(f"r{i}" for i in range(12))
    assert [r["custom_id"] for r in output] != [f"r{i}" for i in range(12)]  # shuffled
    by_id = {r["custom_id"]: r for r in output}
    live = client.post("/chat/completions", json=chat("row 3")).json()
    row = by_id["r3"]
    assert re.fullmatch(r"batch_req_[0-9a-f]{32}", row["id"])
    assert re.fullmatch(r"req_[0-9a-f]{32}", row["response"]["request_id"])
    assert row == {
        "id": row["id"],
        "custom_id": "r3",
        "response": {"status_code": 200, "request_id": row["response"]["request_id"], "body": live},
        "error": None,
    }

    errors = {
        r["custom_id"]: r
        for r in read_lines(client.get(f"/files/{batch['error_file_id']}/content").content)
    }
    assert set(errors) == {"bad-model", "expire-me"}
    failed = errors["bad-model"]
    assert failed["error"] is None and failed["response"]["status_code"] == 404
    assert failed["response"]["body"] == {
        "error": {
            "message": "model not found: no-such-model",
            "type": "invalid_request_error",
            "code": "model_not_found",
        }
    }
    assert errors["expire-me"] == {
        "id": errors["expire-me"]["id"],
        "custom_id": "expire-me",
        "response": None,
        "error": {
            "code": "batch_expired",
            "message": "This request could not be executed before the completion window expired.",
        },
    }


def test_a_bad_input_file_fails_the_batch_with_line_numbers(
    gw: offline.RunningGateway, client: httpx.Client
) -> None:
    data = b"\n".join(
        [
            orjson.dumps(line("a", chat("1"))),
            b"{not json",
            orjson.dumps(line("a", chat("2"))),
            orjson.dumps(line("b", chat("3"), url="/v1/embeddings")),
            orjson.dumps({**line("c", chat("4")), "method": "GET"}),
            orjson.dumps({"custom_id": "d", "method": "POST", "url": CHAT_URL}),
        ]
    )
    file_id = upload(client, data).json()["id"]
    body = {"input_file_id": file_id, "endpoint": CHAT_URL, "completion_window": "24h"}
    batch_id = client.post("/batches", json=body).json()["id"]
    batch, seen = walk(gw, client, f"/batches/{batch_id}", TENTH / 2, TENTH)
    assert seen == ["validating", "validating", "failed"]
    assert isinstance(batch["failed_at"], int) and batch["in_progress_at"] is None
    assert (batch["output_file_id"], batch["error_file_id"]) == (None, None)
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert batch["errors"]["object"] == "list"
    found = [(e["code"], e["param"], e["line"]) for e in batch["errors"]["data"]]
    assert found == [
        ("invalid_json_line", None, 2),
        ("duplicate_custom_id", "custom_id", 3),
        ("url_mismatch", "url", 4),
        ("invalid_method", "method", 5),
        ("missing_required_parameter", "body", 6),
    ]
    assert batch["errors"]["data"][0]["message"] == "This line is not parseable as valid JSON."


def test_create_refusals_are_400_and_unknown_ids_404(client: httpx.Client) -> None:
    r = upload(client, b"{}\n", purpose="fine-tune")
    assert r.status_code == 400
    assert (
        r.json()["error"]["message"] == "purpose: this gateway takes only 'batch', got 'fine-tune'"
    )
    r = client.post("/files", data={"purpose": "batch"}, files={"other": ("x", b"1")})
    assert (r.status_code, r.json()["error"]["message"]) == (
        400,
        "Missing required parameter: 'file'.",
    )
    file_id = upload(client, jsonl([line("a", chat("x"))])).json()["id"]
    good = {"input_file_id": file_id, "endpoint": CHAT_URL, "completion_window": "24h"}
    for change, message in [
        ({"endpoint": "/v1/moderations"}, "endpoint: expected one of"),
        ({"completion_window": "1h"}, "completion_window: expected '24h', got '1h'"),
        ({"input_file_id": "file-" + "0" * 24}, "input_file_id: no file of purpose 'batch'"),
        ({"metadata": {"k": 1}}, "metadata: expected up to 16 string pairs"),
    ]:
        r = client.post("/batches", json={**good, **change})
        assert r.status_code == 400
        assert r.json()["error"]["message"].startswith(message)
        assert r.json()["error"]["type"] == "invalid_request_error"
    for path in ("/batches/batch_nope", "/files/file-nope", "/files/file-nope/content"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found"
    r = client.delete(f"/files/{file_id}")
    assert r.json() == {"id": file_id, "object": "file", "deleted": True}
    assert client.get(f"/files/{file_id}").status_code == 404
    r = client.delete("/batches/batch_nope")
    assert (r.status_code, r.headers["allow"]) == (405, "GET")


def test_cancel_gives_cancelling_then_cancelled_rows_batch_cancelled(tmp_path: Path) -> None:
    with serving(tmp_path) as (gw, c):
        batch = submit(c, [line(f"r{i}", chat("x")) for i in range(3)])
        cancelling = c.post(f"/batches/{batch['id']}/cancel").json()
        assert cancelling["status"] == "cancelling"
        assert isinstance(cancelling["cancelling_at"], int)
        _, seen = walk(gw, c, f"/batches/{batch['id']}", TENTH / 2, TENTH)
        assert seen == ["cancelling", "cancelling", "cancelled"]  # a tenth of batch_seconds
        done = c.get(f"/batches/{batch['id']}").json()
        assert done["request_counts"] == {"total": 3, "completed": 0, "failed": 3}
        assert done["output_file_id"] is None
        errors = read_lines(c.get(f"/files/{done['error_file_id']}/content").content)
        assert sorted(e["custom_id"] for e in errors) == ["r0", "r1", "r2"]
        assert {orjson.dumps(e["error"]) for e in errors} == {
            b'{"code":"batch_cancelled","message":"This request was not executed because'
            b' the batch was cancelled."}'
        }
        assert c.post(f"/batches/{batch['id']}/cancel").json()["status"] == "cancelled"


def test_a_cancel_midway_keeps_the_rows_done(tmp_path: Path) -> None:
    with serving(tmp_path) as (gw, c):
        batch = submit(c, [line(f"r{i}", chat(f"row {i}")) for i in range(10)])
        # rows are done at an even pace from a tenth to nine tenths: half of them by now
        gw.advance_clock(SECONDS / 2)
        c.post(f"/batches/{batch['id']}/cancel")
        done, seen = walk(gw, c, f"/batches/{batch['id']}", 2 * TENTH)
        assert seen == ["cancelling", "cancelled"]
        output = read_lines(c.get(f"/files/{done['output_file_id']}/content").content)
        errors = read_lines(c.get(f"/files/{done['error_file_id']}/content").content)
    counts = done["request_counts"]
    assert counts == {"total": 10, "completed": 5, "failed": 5}
    assert (len(output), len(errors)) == (counts["completed"], counts["failed"])
    assert sorted(r["custom_id"] for r in output + errors) == sorted(f"r{i}" for i in range(10))
    assert {e["error"]["code"] for e in errors} == {"batch_cancelled"}


def test_mock_expire_ends_the_batch_expired(
    gw: offline.RunningGateway, client: httpx.Client
) -> None:
    batch = submit(
        client, [line("a", chat("x")), line("b", chat("y"))], metadata={"mock_expire": "true"}
    )
    # at 95% of its time another batch would be finalizing: this one is still in progress
    done, seen = walk(gw, client, f"/batches/{batch['id']}", 1800, 1620, 360)
    assert seen == ["validating", "in_progress", "in_progress", "expired"]
    assert isinstance(done["expired_at"], int)
    assert done["request_counts"] == {"total": 2, "completed": 0, "failed": 2}
    errors = read_lines(client.get(f"/files/{done['error_file_id']}/content").content)
    assert {e["error"]["code"] for e in errors} == {"batch_expired"}
    r = client.post(f"/batches/{batch['id']}/cancel")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == f"cannot cancel {batch['id']}: it is expired"


def test_batches_list_newest_first_in_pages(client: httpx.Client) -> None:
    ids = [submit(client, [line("a", chat(str(i)))])["id"] for i in range(3)]
    first = client.get("/batches", params={"limit": 2}).json()
    assert [b["id"] for b in first["data"]] == ids[:0:-1]
    assert (first["object"], first["first_id"], first["last_id"], first["has_more"]) == (
        "list",
        ids[2],
        ids[1],
        True,
    )
    rest = client.get("/batches", params={"limit": 2, "after": first["last_id"]}).json()
    assert [b["id"] for b in rest["data"]] == [ids[0]] and rest["has_more"] is False
    r = client.get("/batches", params={"limit": 0})
    assert r.status_code == 400


# ---- Anthropic ------------------------------------------------------------------------------


def request(custom_id: str, model: str = "echo", **params: Any) -> dict[str, Any]:
    body = {"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": custom_id}]}
    return {"custom_id": custom_id, "params": {**body, **params}}


def test_message_batch_ends_with_succeeded_errored_expired(
    gw: offline.RunningGateway, client: httpx.Client
) -> None:
    requests = [request("ok_1"), request("ok-2", stream=True), request("gone", "nope")]
    requests.append(request("expire_3"))
    created = client.post("/messages/batches", json={"requests": requests}).json()
    assert re.fullmatch(r"msgbatch_[0-9A-Za-z]{24}", created["id"])
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
    assert re.fullmatch(stamp, created["created_at"])
    assert created == {
        "id": created["id"],
        "type": "message_batch",
        "processing_status": "in_progress",
        "request_counts": {
            "processing": 4,
            "succeeded": 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        },
        "ended_at": None,
        "created_at": created["created_at"],
        "expires_at": created["expires_at"],
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": None,
    }
    path = f"/messages/batches/{created['id']}"
    early = client.get(path + "/results")
    assert early.status_code == 400
    assert early.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": f"message batch {created['id']} has not ended yet: it is in_progress",
        },
    }
    ended, seen = walk(gw, client, path, SECONDS * 0.95, SECONDS * 0.1)
    assert seen == ["in_progress", "in_progress", "ended"]
    assert ended["request_counts"] == {
        "processing": 0,
        "succeeded": 2,
        "errored": 1,
        "canceled": 0,
        "expired": 1,
    }
    assert re.fullmatch(stamp, ended["ended_at"])
    assert ended["results_url"] == f"{gw.base_url}{path}/results"
    got = client.get(ended["results_url"])
    assert got.headers["content-type"] == "application/x-jsonl"
    results = {r["custom_id"]: r["result"] for r in read_lines(got.content)}
    live = client.post("/messages", json=request("ok-2")["params"]).json()
    assert results["ok-2"] == {"type": "succeeded", "message": live}
    assert results["gone"] == {
        "type": "errored",
        "error": {
            "type": "error",
            "error": {"type": "not_found_error", "message": "model not found: nope"},
        },
    }
    assert results["expire_3"] == {"type": "expired"}
    assert client.get(ended["results_url"]).content == got.content  # kept, not redone


@pytest.mark.parametrize(
    "requests,message",
    [
        (
            [request("has space")],
            "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
        ),
        (
            [request("a"), request("x" * 65)],
            "requests.1.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
        ),
        ([request("a"), request("a")], "requests.1.custom_id: 'a' is not unique in the batch"),
        ([], "requests: expected an array of 1 to 100000 requests"),
        ([{"custom_id": "a"}], "requests.0.params: expected an object"),
    ],
)
def test_message_batch_refusals_are_400(
    client: httpx.Client, requests: list[Any], message: str
) -> None:
    r = client.post("/messages/batches", json={"requests": requests})
    assert r.status_code == 400
    assert r.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
    }


def test_message_batch_cancel_delete_and_pages(tmp_path: Path) -> None:
    with serving(tmp_path) as (gw, c):
        ids = [
            c.post("/messages/batches", json={"requests": [request("a")]}).json()["id"]
            for _ in range(3)
        ]
        path = f"/messages/batches/{ids[0]}"
        r = c.delete(path)
        assert r.status_code == 400
        canceling = c.post(path + "/cancel").json()
        assert canceling["processing_status"] == "canceling"
        assert canceling["cancel_initiated_at"] is not None
        ended, seen = walk(gw, c, path, TENTH / 2, TENTH)
        assert seen == ["canceling", "canceling", "ended"]  # a tenth of batch_seconds
        assert ended["request_counts"]["canceled"] == 1
        assert read_lines(c.get(path + "/results").content) == [
            {"custom_id": "a", "result": {"type": "canceled"}}
        ]
        page = c.get("/messages/batches", params={"limit": 2}).json()
        assert [b["id"] for b in page["data"]] == ids[:0:-1]
        assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[2], ids[1], True)
        assert "object" not in page
        after = c.get("/messages/batches", params={"after_id": ids[1]}).json()
        assert [b["id"] for b in after["data"]] == [ids[0]] and not after["has_more"]
        before = c.get("/messages/batches", params={"before_id": ids[0], "limit": 1}).json()
        assert [b["id"] for b in before["data"]] == [ids[1]] and before["has_more"]
        assert c.delete(path).json() == {"id": ids[0], "type": "message_batch_deleted"}
        assert c.get(path).status_code == 404


# ---- profiles, persistence, serve -----------------------------------------------------------


def test_profiles_serve_their_batch_apis() -> None:
    with (
        offline.start("anthropic", batch_seconds=SECONDS) as anth,
        offline.start("openrouter") as router,
    ):
        with httpx.Client(base_url=anth.base_url) as c:
            body = {"requests": [request("a", "claude-sonnet-4-5")]}
            assert c.post("/messages/batches", json=body).status_code == 401
            headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
            assert c.post("/messages/batches", json=body, headers=headers).status_code == 200
            assert c.get("/batches", headers=headers).status_code == 404
            assert c.post("/files", headers=headers).status_code == 404
        with httpx.Client(base_url=router.base_url, headers={"Authorization": "Bearer k"}) as c:
            assert c.get("/batches").status_code == 404
            assert c.get("/messages/batches").status_code == 404


def test_batches_outlive_their_gateway_in_batch_dir(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, c):
        openai_id = submit(c, [line("a", chat("kept"))])["id"]
        message_id = c.post("/messages/batches", json={"requests": [request("b")]}).json()["id"]
    with serving(tmp_path) as (second, c):
        assert c.get(f"/batches/{openai_id}").json()["status"] == "validating"
        second.advance_clock(SECONDS)  # the second gateway's clock: the first one is gone
        batch = c.get(f"/batches/{openai_id}").json()
        assert batch["status"] == "completed"
        output = read_lines(c.get(f"/files/{batch['output_file_id']}/content").content)
        assert output[0]["response"]["body"]["choices"][0]["message"]["content"] == "kept"
        ended = c.get(f"/messages/batches/{message_id}").json()
        assert ended["results_url"].startswith(second.base_url)
        results = read_lines(c.get(ended["results_url"]).content)
        assert results[0]["result"]["type"] == "succeeded"


def test_without_batch_dir_the_batches_go_with_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with offline.start() as running, httpx.Client(base_url=running.base_url) as c:
        assert upload(c, b"{}\n").status_code == 200
        assert [p.name[:20] for p in tmp_path.iterdir()] == ["llmcli-mock-batches-"]
    assert list(tmp_path.iterdir()) == []


def test_faults_apply_to_batch_routes(client: httpx.Client) -> None:
    r = client.get("/batches", headers={"X-Mock-Fault": "status=503"})
    assert r.status_code == 503


def test_serve_rejects_batch_seconds_not_above_zero() -> None:
    r = llmcli("serve", "--batch-seconds", "0")
    assert (r.code, r.out, r.err) == (2, b"", "llmcli: --batch-seconds: must be above 0, got 0\n")


def test_serve_says_when_batch_dir_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    r = llmcli("serve", "--batch-dir", str(tmp_path / "file" / "dir"))
    message = f"llmcli: --batch-dir: cannot create {tmp_path}/file/dir: Not a directory\n"
    assert (r.code, r.out, r.err) == (73, b"", message)
