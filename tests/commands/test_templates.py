"""Prompt templates (``-t NAME``, ``-V``, ``llmcli templates``): where they come from,
what they fill in, what wins over what, and their errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from conftest import llmcli

CONFIG = """\
default_gateway = "mock"

[gateways.mock]
model = "lorem"

[templates.review]
description = "Review a change"
system = "You review code."
prompt = "Review this {lang} change:\\n{input}\\nBe brief; {{braces}} stay."
model = "echo"

[templates.hello]
prompt = "Say hi to {who}"
"""


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "llmcli" / "templates").mkdir(parents=True)
    (tmp_path / "llmcli" / "config.toml").write_text(CONFIG)
    (tmp_path / "llmcli" / "templates" / "summ.toml").write_text(
        'description = "Summarise"\n'
        'prompt = "Summarise in 3 bullets."\n'
        'model = "echo"\n'
        'schema = "bullets.json"\n'
        "params = { temperature = 0.2, seed = 7 }\n"
    )
    (tmp_path / "llmcli" / "templates" / "bullets.json").write_text(
        '{"type": "object", "properties": {"bullets": {"type": "array"}}}'
    )
    return {"XDG_CONFIG_HOME": str(tmp_path)}


def body(home: dict[str, str], *args: str, stdin: bytes = b"", command: str = "chat") -> dict:
    r = llmcli(command, "--dry-run", *args, stdin=stdin, env=home)
    assert r.code == 0, r.err
    return orjson.loads(r.out)["body"]


def test_the_input_goes_where_the_template_says(home: dict[str, str]) -> None:
    r = llmcli("chat", "-t", "review", "-V", "lang=Python", stdin=b"- a\n+ b", env=home)
    assert (r.code, r.err) == (0, "")
    assert r.text == "Review this Python change:\n- a\n+ b\nBe brief; {braces} stay.\n"


def test_without_input_in_it_the_input_follows_after_a_blank_line(home: dict[str, str]) -> None:
    sent = body(home, "-t", "summ", "the text")
    assert sent["messages"] == [{"role": "user", "content": "Summarise in 3 bullets.\n\nthe text"}]
    assert (sent["temperature"], sent["seed"], sent["model"]) == (0.2, 7, "echo")
    schema = sent["response_format"]["json_schema"]["schema"]  # relative to the template
    assert schema == {"type": "object", "properties": {"bullets": {"type": "array"}}}


def test_a_template_prompt_is_input_enough(home: dict[str, str]) -> None:
    r = llmcli("chat", "-t", "hello", "-V", "who=Ann", "-m", "echo", env=home)
    assert (r.code, r.text, r.err) == (0, "Say hi to Ann\n", "")


def test_flags_win_over_the_template_and_the_template_over_the_gateway(
    home: dict[str, str],
) -> None:
    sent = body(home, "-t", "review", "-V", "lang=Go", "x")
    assert sent["model"] == "echo"  # the template's, not the gateway's lorem
    assert sent["messages"][0] == {"role": "system", "content": "You review code."}
    sent = body(home, "-t", "review", "-V", "lang=Go", "-m", "think", "-s", "Be kind.", "x")
    assert sent["model"] == "think"
    assert sent["messages"][0] == {"role": "system", "content": "Be kind."}
    env = {**home, "LLMCLI_MODEL": "unicode"}
    assert body(env, "-t", "review", "-V", "lang=Go", "x")["model"] == "echo"
    sent = body(home, "-t", "summ", "-p", "temperature=1", "--temperature", "0.5", "x")
    assert sent["temperature"] == 1


@pytest.mark.parametrize("command", ["messages", "responses"])
def test_every_conversation_command_takes_a_template(command: str, home: dict[str, str]) -> None:
    r = llmcli(command, "-t", "review", "-V", "lang=C", stdin=b"int x;", env=home)
    assert (r.code, r.err) == (0, "")
    assert r.text == "Review this C change:\nint x;\nBe brief; {braces} stay.\n"


NO_TEMPLATE = (
    "llmcli: no template 'helo' (did you mean 'hello'?): define it as [templates.NAME] in the "
    "config file or {dir}/NAME.toml\n"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", "hello"], "llmcli: template 'hello' needs the variable 'who': pass -V who=VALUE\n"),
        (["-V", "who=x", "hi"], "llmcli: -V gives a template's variables: name the template "
         "with -t NAME\n"),
        (["-t", "helo", "hi"], NO_TEMPLATE),
        (["-t", "hello", "-V", "who"], "llmcli: -V 'who': expected NAME=VALUE\n"),
    ],
)  # fmt: skip
def test_template_mistakes_are_usage_errors(
    args: list[str], message: str, home: dict[str, str]
) -> None:
    r = llmcli("chat", *args, env=home)
    folder = f"{home['XDG_CONFIG_HOME']}/llmcli/templates"
    assert (r.code, r.out, r.err) == (2, b"", message.format(dir=folder))


def test_a_bad_template_names_its_file_and_line(home: dict[str, str]) -> None:
    config = Path(home["XDG_CONFIG_HOME"]) / "llmcli" / "config.toml"
    config.write_text(CONFIG + '\n[templates.broken]\nprompt = "x"\nmodle = "m"\n')
    r = llmcli("chat", "-t", "hello", "-V", "who=x", env=home)
    assert (r.code, r.out) == (78, b"")
    assert r.err == (
        f"llmcli: {config}:17: template 'broken': unknown key 'modle' (did you mean 'model'?)\n"
    )
    file = Path(home["XDG_CONFIG_HOME"]) / "llmcli" / "templates" / "bad.toml"
    file.write_text('prompt = "x"\nmodel = \n')
    config.write_text(CONFIG)
    r = llmcli("chat", "-t", "bad", "hi", env=home)
    assert r.code == 78
    assert r.err == f"llmcli: {file}:2:9: Invalid value\n"


def test_templates_lists_and_shows_them(home: dict[str, str]) -> None:
    config = f"{home['XDG_CONFIG_HOME']}/llmcli/config.toml"
    summ = f"{home['XDG_CONFIG_HOME']}/llmcli/templates/summ.toml"
    r = llmcli("templates", env=home)
    assert (r.code, r.err) == (0, "")
    assert r.text == (
        f"hello\t{config}:12\nreview\t{config}:6\tReview a change\nsumm\t{summ}\tSummarise\n"
    )
    shown = llmcli("templates", "show", "summ", env=home)
    assert orjson.loads(shown.out) == {
        "name": "summ",
        "source": summ,
        "prompt": "Summarise in 3 bullets.",
        "model": "echo",
        "params": {"temperature": 0.2, "seed": 7},
        "schema": "bullets.json",
        "description": "Summarise",
    }


def test_batch_run_puts_prompt_lines_in_the_template(home: dict[str, str], tmp_path: Path) -> None:
    rows = b'a.py\n{"custom_id": "own", "messages": [{"role": "user", "content": "as is"}]}\n'
    r = llmcli(
        "batch", "run", "-t", "review", "-V", "lang=Go", "-p", "seed=1", stdin=rows, env=home
    )
    assert (r.code, r.err) == (0, "")
    lines = [orjson.loads(line) for line in r.out.splitlines()]
    texts = [line["response"]["body"]["choices"][0]["message"]["content"] for line in lines]
    assert texts == ["Review this Go change:\na.py\nBe brief; {braces} stay.", "as is"]
    assert [line["response"]["body"]["model"] for line in lines] == ["echo", "echo"]


def test_the_readme_template_example_works(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Templates\n", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "llmcli").mkdir()
    (tmp_path / "llmcli" / "config.toml").write_text(example)
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    sent = body(env, "-g", "mock", "-t", "review", "-V", "lang=Python", stdin=b"+ x = 1")
    assert sent["messages"] == [
        {"role": "system", "content": "You review code. Be specific."},
        {"role": "user", "content": "Review this Python change; what breaks?\n\n+ x = 1"},
    ]
    assert (sent["model"], sent["temperature"]) == ("gpt-5-mini", 0.2)


def test_a_template_file_is_read_bounded(home: dict[str, str]) -> None:
    big = Path(home["XDG_CONFIG_HOME"]) / "llmcli" / "templates" / "big.toml"
    big.write_text('prompt = "' + "x" * (1 << 20) + '"\n')
    r = llmcli("chat", "-t", "big", "hi", env=home)
    assert (r.code, r.out, r.err) == (
        78,
        b"",
        f"llmcli: {big}: larger than 1 MiB, not a template\n",
    )
