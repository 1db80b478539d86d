"""The zsh completion script: one ``_arguments`` function per command, one per group.

A group's function (``_llmcli``, ``_llmcli_batch``) completes its options and the names of
its commands, then hands the rest of the line to the chosen command's function, as zsh's
own completions for git-like commands do (``*:: :->argument``, ``$words[1]``).
"""

from __future__ import annotations

import re

from llmcli.docgen.completions import GATEWAYS, describe
from llmcli.docgen.model import HEADER, Cli, Command, Option


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_specs(opt: Option) -> list[str]:
    """``_arguments`` specs, one per spelling: ``(-o --output)--output=[help]:msg:action``."""
    desc = re.sub(r"([\\\[\]])", r"\\\1", describe(opt.help))
    if {"--help", "--version"} & set(opt.spellings):
        exclusions = "(- *)"
    elif opt.repeatable:
        exclusions = "*"
    else:
        exclusions = f"({' '.join(opt.spellings)})"
    value = ""
    if opt.takes_value:
        message = (opt.names[-1].lstrip("-") if opt.kind == "choice" else opt.metavar).strip("'")
        action = {
            "choice": f"({' '.join(opt.choices)})",
            "file": "_files",
            "gateway": "_llmcli_gateway_names",
        }.get(opt.kind, " ")
        value = ":" + message.replace(":", "\\:") + ":" + action
    specs = []
    for name in opt.spellings:
        equals = "=" if opt.takes_value and name.startswith("--") else ""
        specs.append(_zsh_quote(f"{exclusions}{name}{equals}[{desc}]{value}"))
    return specs


def _zsh_name(cmd: Command) -> str:
    """The completion function of a command: _llmcli, _llmcli_chat, _llmcli_batch_run."""
    return "_".join(("_llmcli", *cmd.path))


def _zsh_function(cmd: Command) -> list[str]:
    specs = [spec for opt in cmd.options for spec in _zsh_specs(opt)]
    for arg in cmd.arguments:
        times = "*" if arg.repeatable else "" if arg.required else ":"
        action = "_files" if arg.kind == "file" else " "
        specs.append(_zsh_quote(f"{times}:{arg.name}:{action}"))
    lines = [f"{_zsh_name(cmd)}() {{", "  _arguments -s -S : \\"]
    lines += [f"    {spec} \\" for spec in specs[:-1]] + [f"    {specs[-1]}", "}", ""]
    return lines


def _zsh_group(cmd: Command) -> list[str]:
    """A group's function: its options, then its commands, then the chosen command's."""
    specs = [spec for opt in cmd.options for spec in _zsh_specs(opt)]
    what = _zsh_quote(" ".join(("llmcli", *cmd.path, "command")))
    return [
        f"{_zsh_name(cmd)}() {{",
        "  local curcontext=$curcontext state state_descr line",
        "  typeset -A opt_args",
        "  integer ret=1",
        "  _arguments -s -C : \\",
        *(f"    {spec} \\" for spec in specs),
        "    ': :->command' \\",
        "    '*:: :->argument' && ret=0",
        "  case $state in",
        "    (command)",
        "      local -a commands=(",
        *(f"        {_zsh_quote(c.name + ':' + describe(c.summary))}" for c in cmd.subcommands),
        "      )",
        f"      _describe -t commands {what} commands && ret=0",
        "      ;;",
        "    (argument)",
        f"      curcontext=${{curcontext%:*:*}}:{cmd.page}-$words[1]:",
        "      case $words[1] in",
        *(f"        ({c.name}) {_zsh_name(c)} && ret=0 ;;" for c in cmd.subcommands),
        "      esac",
        "      ;;",
        "  esac",
        "  return ret",
        "}",
        "",
    ]


def zsh(cli: Cli) -> str:
    lines = [
        "#compdef llmcli",
        "# zsh completion for llmcli(1): commands, options, option values, files, gateways.",
        f"# {HEADER}",
        "# Use: copy it as _llmcli into a directory of $fpath before compinit runs, or",
        "# source it after compinit.",
        "",
        "_llmcli_gateway_names() {",
        "  local -a gateways",
        f'  gateways=(${{(f)"$(_call_program gateways {GATEWAYS})"}})',
        "  _wanted gateways expl gateway compadd -a gateways",
        "}",
        "",
    ]
    for cmd in cli.walk():
        lines += _zsh_group(cmd) if cmd.subcommands else _zsh_function(cmd)
    lines += _zsh_group(cli.root)
    lines += [
        "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then",
        '  _llmcli "$@"',
        "else",
        "  compdef _llmcli llmcli",
        "fi",
    ]
    return "\n".join(lines) + "\n"
