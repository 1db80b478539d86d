"""Shell completions: generated from the app and current, and working in real shells.

bash is driven through its completion function with COMP_WORDS/COMP_CWORD set as
readline would; fish through ``complete -C``; zsh through a zpty pseudo-terminal where
Tab runs the real completion system and a wrapped ``compadd`` records what it offers.
fish and zsh tests are skipped when the shell is not installed (``.ci/run`` installs them
where apt-get exists). Every gateway completion runs the real ``llmcli gateways --names``.
``llmcli batch`` is a group: its commands come after it, and ``batch run``'s options
(its -o takes a FILE, not a FORMAT) and its FILE argument after ``batch run``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import clean_env, llmcli

from llmcli.config.builtin import BUILTINS

with warnings.catch_warnings():  # typer 0.25 imports names click 8.5 deprecates
    warnings.simplefilter("ignore", DeprecationWarning)
    from llmcli.docgen.__main__ import generate, main

ROOT = Path(__file__).resolve().parents[2]
COMPLETIONS = ROOT / "completions"
BIN = Path(sys.executable).parent  # the venv's bin: `llmcli` for `gateways --names`
FORMATS = {"text", "json", "jsonl", "sse"}
EFFORTS = {"none", "minimal", "low", "medium", "high", "xhigh"}
GATEWAYS = {*BUILTINS, "work"}  # "work" comes from the temporary config file
COMMANDS = {
    "chat", "stream", "messages", "responses", "models", "embed", "batch", "gateways", "serve",
    "mcp", "templates",
}  # fmt: skip
NOTES = {"notes.md", "notes.txt"}

# (line typed, candidates offered): the same in every shell
CASES = [
    ("llmcli ch", {"chat"}),
    ("llmcli ", COMMANDS),
    ("llmcli chat -o ", FORMATS),
    ("llmcli stream --output j", {"json", "jsonl"}),
    ("llmcli chat -g ", GATEWAYS),
    ("llmcli embed --gateway mo", {"mock"}),
    ("llmcli chat --reasoning-effort ", EFFORTS),
    ("llmcli chat --mess", {"--messages"}),
    ("llmcli messages --thinking-b", {"--thinking-budget"}),
    ("llmcli embed --encoding-format ", {"float", "base64"}),
    ("llmcli embed --empty ", {"skip", "error"}),
    ("llmcli gateways --na", {"--names"}),
    ("llmcli chat -f no", NOTES),
    ("llmcli chat --schema no", NOTES),
    # a group: its commands, then the chosen command's options, values and files
    ("llmcli b", {"batch"}),
    ("llmcli batch ", {"run", "submit", "status", "fetch", "cancel", "list"}),
    ("llmcli batch s", {"submit", "status"}),
    ("llmcli batch fetch --wa", {"--wait"}),
    ("llmcli batch fetch -o no", NOTES),
    ("llmcli batch submit no", NOTES),
    ("llmcli batch list --li", {"--limit"}),
    ("llmcli batch r", {"run"}),
    ("llmcli batch --he", {"--help"}),
    ("llmcli batch run --sh", {"--shard"}),
    ("llmcli batch run --max-w", {"--max-wait"}),
    ("llmcli batch run --unor", {"--unordered"}),
    ("llmcli batch run -o no", NOTES),  # -o FILE here, not -o FORMAT
    ("llmcli batch run --output no", NOTES),
    ("llmcli batch run no", NOTES),  # its FILE argument
    ("llmcli batch run -g ", GATEWAYS),
    ("llmcli batch run --gateway mo", {"mock"}),
    ("llmcli batch run -P 8 -o out.jsonl rows.jsonl --res", {"--resume"}),
    ("llmcli batch run --dry-run no", NOTES),  # a flag takes no value: FILE comes next
]


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """A working directory with files to complete, and a config file with one gateway."""
    for name in ("notes.md", "notes.txt", "other.json"):
        (tmp_path / name).write_text("x\n")
    config = tmp_path / "config.toml"
    config.write_text('[gateways.work]\nbase_url = "http://127.0.0.1:9/v1"\n')
    return clean_env(
        {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "LLMCLI_CONFIG": str(config),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
            "HOME": str(tmp_path),
        }
    )


# --- generated, current, deterministic ---------------------------------------------


def test_committed_files_are_current() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llmcli.docgen", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_check_fails_on_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0
    bash = tmp_path / "completions" / "llmcli.bash"
    bash.write_text(bash.read_text().replace("--reasoning-effort", "--effort"))
    (tmp_path / "man" / "llmcli-retired.1").write_text(".TH OLD 1\n")
    capsys.readouterr()
    assert main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "stale: completions/llmcli.bash\n" in err
    assert "stale: man/llmcli-retired.1\n" in err
    assert "stale: man/llmcli.1" not in err
    assert main(["--root", str(tmp_path)]) == 0  # regenerating repairs both
    assert not (tmp_path / "man" / "llmcli-retired.1").exists()
    assert main(["--check", "--root", str(tmp_path)]) == 0


def test_generation_is_deterministic_and_machine_free() -> None:
    first, second = generate(), generate()
    assert first == second
    assert set(first) == {
        "completions/llmcli.bash",
        "completions/_llmcli",
        "completions/llmcli.fish",
        "man/llmcli.1",
        *(f"man/llmcli-{c}.1" for c in COMMANDS),
        *(
            f"man/llmcli-batch-{c}.1"
            for c in ("run", "submit", "status", "fetch", "cancel", "list")
        ),
        "man/llmcli-mcp-list-tools.1",
        "man/llmcli-templates-show.1",
    }
    for content in first.values():
        assert str(ROOT) not in content
        assert os.path.expanduser("~") + "/" not in content


# --- llmcli gateways --names ----------------------------------------------------------


def test_gateway_names_are_builtins_then_config(shell_env: dict[str, str]) -> None:
    r = llmcli("gateways", "--names", env=shell_env)
    assert (r.code, r.err) == (0, "")
    assert r.text.splitlines() == [*BUILTINS, "work"]


def test_gateway_names_survive_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[gateways.work\n")
    r = llmcli("gateways", "--names", env={"LLMCLI_CONFIG": str(config)})
    assert r.code == 0
    assert r.text.splitlines() == list(BUILTINS)
    assert r.err.count("\n") == 1
    assert r.err.startswith(f"llmcli: warning: {config}:1:")


def test_gateway_names_through_typer_too(shell_env: dict[str, str]) -> None:
    """The fast path in __main__ and the Typer command print the same."""
    code = "import sys; from llmcli.cli.app import run; sys.exit(run(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "gateways", "--names"],
        capture_output=True,
        env=shell_env,
        check=False,
    )
    assert (done.returncode, done.stdout) == (
        0,
        "".join(f"{g}\n" for g in [*BUILTINS, "work"]).encode(),
    )
    assert llmcli("gateways", "--names", "-o", "json").code == 2


def test_gateway_names_skip_typer() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llmcli", "gateways", "--names"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "llmcli.config" in imported
    assert not imported & {"typer", "click", "httpx", "rich", "llmcli.docgen"}


# --- bash -----------------------------------------------------------------------------


def words(line: str) -> list[str]:
    """COMP_WORDS as bash splits a line (COMP_WORDBREAKS makes '=' a word of its own)."""
    return [w for part in line.split(" ") for w in re.split(r"(=)", part) if w or part == ""]


def bash_complete(line: str, env: dict[str, str], cwd: Path) -> list[str]:
    script = (
        'source "$COMPLETIONS"\n'
        'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE=$LINE; COMP_POINT=${#LINE}\n'
        '_llmcli llmcli "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script, "bash", *words(line)],
        capture_output=True,
        text=True,
        env={**env, "COMPLETIONS": str(COMPLETIONS / "llmcli.bash"), "LINE": line},
        cwd=cwd,
        timeout=20,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    return [c for c in done.stdout.splitlines() if c]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_bash(line: str, expected: set[str], shell_env: dict[str, str], tmp_path: Path) -> None:
    assert set(bash_complete(line, shell_env, tmp_path)) == expected


def test_bash_edges(shell_env: dict[str, str], tmp_path: Path) -> None:
    assert bash_complete("llmcli chat --output=js", shell_env, tmp_path) == ["json", "jsonl"]
    assert bash_complete("llmcli chat -s ", shell_env, tmp_path) == []  # a value: nothing
    assert bash_complete("llmcli chat -- -", shell_env, tmp_path) == []  # no options after --
    assert "--no-thinking" in bash_complete("llmcli stream --no", shell_env, tmp_path)
    assert bash_complete("llmcli batch run --output=no", shell_env, tmp_path) == sorted(NOTES)
    assert bash_complete("llmcli batch run -P ", shell_env, tmp_path) == []  # a number
    assert bash_complete("llmcli batch run --shard ", shell_env, tmp_path) == []
    assert bash_complete("llmcli batch nope -", shell_env, tmp_path) == []  # no such command
    Path(shell_env["LLMCLI_CONFIG"]).write_text("[gateways.work\n")  # broken: silent
    assert set(bash_complete("llmcli chat -g ", shell_env, tmp_path)) == set(BUILTINS)


def test_bash_registers_the_function(shell_env: dict[str, str]) -> None:
    done = subprocess.run(
        [
            "bash",
            "--norc",
            "--noprofile",
            "-c",
            f"source {COMPLETIONS}/llmcli.bash; complete -p llmcli",
        ],
        capture_output=True,
        text=True,
        env=shell_env,
        check=False,
    )
    assert (done.stdout, done.stderr) == ("complete -F _llmcli llmcli\n", "")


# --- fish -----------------------------------------------------------------------------

needs_fish = pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
FISH_COMPLETE = 'source $argv[1]; complete -C "$argv[2]"'


def fish_complete(line: str, env: dict[str, str], cwd: Path) -> set[str]:
    done = subprocess.run(
        ["fish", "--no-config", "-c", FISH_COMPLETE, str(COMPLETIONS / "llmcli.fish"), line],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=20,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    return {row.split("\t")[0] for row in done.stdout.splitlines()}


@needs_fish
@pytest.mark.parametrize(("line", "expected"), CASES)
def test_fish(line: str, expected: set[str], shell_env: dict[str, str], tmp_path: Path) -> None:
    assert fish_complete(line, shell_env, tmp_path) == expected


# --- zsh ------------------------------------------------------------------------------

needs_zsh = pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")

# Sourced in an interactive zsh on a pseudo-terminal: the real compinit, with compadd
# wrapped to record the candidates it is given (after matching), and Tab bound to a
# completion widget that says when it is done.
ZSH_SETUP = r"""
PROMPT='> '
fpath=($ZC_FPATH $fpath)
autoload -Uz compinit && compinit -u -D
compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then  # only fills an array: not an offer
    builtin compadd "$@"
    return
  fi
  local -a hits
  builtin compadd -A hits "$@"
  (( $#hits )) && print -rl -- $hits >> $ZC_OUT
  builtin compadd "$@"
}
_zc_complete() { { _main_complete } always { print done > $ZC_OUT.done } }
zle -C zc-complete .complete-word _zc_complete
bindkey '^I' zc-complete
print ready > $ZC_OUT.ready
"""
ZSH_DRIVE = r"""
zmodload zsh/zpty || exit 3
zpty z 'TERM=xterm zsh -f -i'
zpty -w z "source ${(q)ZC_SETUP}"
for i in {1..250}; do [[ -e $ZC_OUT.ready ]] && break; sleep 0.02; done
zpty -w -n z "$1"$'\t'
for i in {1..250}; do [[ -e $ZC_OUT.done ]] && break; sleep 0.02; done
zpty -d z
[[ -e $ZC_OUT.done ]] || { print -u2 "zsh: no completion ran"; exit 1 }
[[ -e $ZC_OUT ]] && cat $ZC_OUT
exit 0
"""


def zsh_complete(line: str, env: dict[str, str], cwd: Path) -> set[str]:
    setup = cwd / "setup.zsh"
    setup.write_text(ZSH_SETUP)
    offered = cwd / "offered"
    for path in (offered, *(offered.with_suffix(s) for s in (".ready", ".done"))):
        path.unlink(missing_ok=True)
    env = {**env, "ZC_FPATH": str(COMPLETIONS), "ZC_SETUP": str(setup), "ZC_OUT": str(offered)}
    done = subprocess.run(
        ["zsh", "-f", "-c", ZSH_DRIVE, "zsh", line],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=30,
        check=False,
    )
    if done.returncode == 3:
        pytest.skip("zsh has no zsh/zpty module")
    assert (done.returncode, done.stderr) == (0, "")
    return set(done.stdout.split())


@needs_zsh
@pytest.mark.parametrize(("line", "expected"), CASES)
def test_zsh(line: str, expected: set[str], shell_env: dict[str, str], tmp_path: Path) -> None:
    assert zsh_complete(line, shell_env, tmp_path) == expected


# --- every shell: all of a subcommand's options ---------------------------------------


def help_options(*command: str) -> set[str]:
    """Every spelling in the left column of the Options list of `llmcli COMMAND --help`."""
    r = llmcli(*command, "--help", env={"COLUMNS": "200"})
    assert (r.code, r.err) == (0, "")
    options = r.text.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
    found: set[str] = set()
    for line in options.splitlines():
        left = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        found.update(re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", left))
    return found


SHELLS = [
    pytest.param(lambda line, env, cwd: set(bash_complete(line, env, cwd)), id="bash"),
    pytest.param(fish_complete, marks=needs_fish, id="fish"),
    pytest.param(zsh_complete, marks=needs_zsh, id="zsh"),
]


@pytest.mark.parametrize("complete", SHELLS)
def test_batch_run_dash_offers_every_option_of_its_help(
    complete: Callable[[str, dict[str, str], Path], set[str]],
    shell_env: dict[str, str],
    tmp_path: Path,
) -> None:
    options = help_options("batch", "run")
    assert {"-o", "--output", "--shard", "-P", "--resume", "-g", "--max-wait"} <= options
    assert complete("llmcli batch run -", shell_env, tmp_path) == options


@needs_zsh
def test_zsh_loads_the_script_both_ways(shell_env: dict[str, str]) -> None:
    """From $fpath (autoloaded) and sourced after compinit, without a word on stderr."""
    script = (
        f"fpath=({COMPLETIONS} $fpath); autoload -U compinit; compinit -u -D; "
        "print -r -- $_comps[llmcli]; "
        f"source {COMPLETIONS}/_llmcli; print -r -- $_comps[llmcli] ${{+functions[_llmcli_chat]}} "
        "${+functions[_llmcli_batch]} ${+functions[_llmcli_batch_run]}"
    )
    done = subprocess.run(
        ["zsh", "-f", "-c", script], capture_output=True, text=True, env=shell_env, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "_llmcli\n_llmcli 1 1 1\n", "")
