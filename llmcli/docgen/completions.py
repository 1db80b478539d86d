"""Shell completion scripts for bash, zsh and fish, written from the command tree.

Each script completes the command names, every option of each command, the values of
``click.Choice`` options (``-o``, ``--reasoning-effort``, ``--empty`` …), file names for
options whose metavar names a file (FILE, PATH, PATH|URL), and gateway names for
``-g/--gateway``, which change with the user's config.toml and so are asked of
``llmcli gateways --names`` at completion time, its stderr sent to /dev/null.
"""

from __future__ import annotations

import re
import textwrap

from llmcli.docgen.model import HEADER, Cli, Command, Option

GATEWAYS = "llmcli gateways --names 2>/dev/null"


def describe(text: str) -> str:
    """An option's help cut to its first clause, for a completion menu."""
    text = re.sub(r"\s*\[[^\]]*\]", "", text)  # [env: …], [default: …]
    text = re.split(r";\s|\.\s+(?=[A-Z`'])", text, maxsplit=1)[0]  # not at "e.g. http"
    return text.strip().rstrip(".")


def _wrapped(words: list[str], indent: int) -> str:
    """Words for ``compgen -W "…"``, wrapped inside the double quotes."""
    return textwrap.fill(" ".join(words), width=92 - indent, break_on_hyphens=False).replace(
        "\n", "\n" + " " * indent
    )


def _bash_command(cmd: Command) -> list[str]:
    """The lines of one ``case $cmd`` branch: values after an option, else options."""
    cases: dict[str, list[str]] = {}
    for opt in cmd.options:
        if not opt.takes_value:
            continue
        if opt.kind == "choice":
            action = f'_llmcli_words "{" ".join(opt.choices)}" "$cur"'
        else:
            action = {
                "file": '_llmcli_files "$cur"',
                "gateway": '_llmcli_gateway_names "$cur"',
            }.get(opt.kind, ":")
        cases.setdefault(action, []).extend(opt.names)
    lines = ["            case $prev in"]
    for action, names in cases.items():
        lines.append(f"                {'|'.join(names)}) {action}; return ;;")
    lines.append("            esac")
    words = [s for opt in cmd.options for s in opt.spellings]
    lines.append(f'            [[ $cur == -* ]] && _llmcli_words "{_wrapped(words, 16)}" "$cur"')
    return lines


def bash(cli: Cli) -> str:
    if any(o.takes_value for o in cli.root.options):
        raise NotImplementedError("top-level options that take a value")
    branches: dict[tuple[str, ...], list[str]] = {}
    for cmd in cli.commands:
        branches.setdefault(tuple(_bash_command(cmd)), []).append(cmd.name)
    root_words = " ".join(s for o in cli.root.options for s in o.spellings)
    body = [
        '        "")',
        f'            if [[ $cur == -* ]]; then _llmcli_words "{root_words}" "$cur"',
        f'            else _llmcli_words "{" ".join(c.name for c in cli.commands)}" "$cur"; fi',
        "            ;;",
    ]
    for lines, names in branches.items():
        body += [f"        {'|'.join(names)})", *lines, "            ;;"]
    return _BASH.format(header=HEADER, gateways=GATEWAYS, body="\n".join(body))


_BASH = """\
# bash completion for llmcli(1): commands, options, option values, files, gateway names.
# {header}
# Use: source it, or copy it to ~/.local/share/bash-completion/completions/llmcli

_llmcli_words() {{
    mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2")
}}

_llmcli_files() {{
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$1")
}}

_llmcli_gateway_names() {{
    # built-in gateways and the config file's; a broken config file stays silent
    _llmcli_words "$(command {gateways})" "$1"
}}

_llmcli() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} cmd="" i
    COMPREPLY=()
    if [[ $cur == "=" ]]; then  # --option=value: bash splits the word at '='
        cur=""
    elif [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then
        prev=${{COMP_WORDS[COMP_CWORD-2]}}
    fi
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            --) return ;;
            -*) ;;
            *) [[ -z $cmd ]] && cmd=${{COMP_WORDS[i]}} ;;
        esac
    done
    case $cmd in
{body}
    esac
}}

complete -F _llmcli llmcli
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(cmd: str, opt: Option) -> list[str]:
    lines = []
    for names, help in ((opt.names, opt.help), (opt.negations, opt.help)):
        if not names:
            continue
        flags = []
        for name in names:
            if re.fullmatch(r"-[^-]", name):
                flags.append(f"-s {name[1:]}")
            elif name.startswith("--"):
                flags.append(f"-l {name[2:]}")
            else:
                flags.append(f"-o {name[1:]}")
        if opt.kind == "choice":
            flags.append(f"-x -a {_fish_quote(' '.join(opt.choices))}")
        elif opt.kind == "gateway":
            flags.append(f"-x -a {_fish_quote(f'(command {GATEWAYS})')}")
        elif opt.kind == "file":
            flags.append("-r -F")
        elif opt.kind == "value":
            flags.append("-x")
        using = cmd or '""'
        condition = _fish_quote(f"__llmcli_using {using}")
        flags.append(f"-d {_fish_quote(describe(help))}")
        lines.append(f"complete -c llmcli -n {condition} {' '.join(flags)}")
    return lines


def fish(cli: Cli) -> str:
    lines = [
        "# fish completion for llmcli(1): commands, options, option values, files, gateways.",
        f"# {HEADER}",
        "# Use: source it, or copy it to ~/.config/fish/completions/llmcli.fish",
        "",
        "function __llmcli_using --description 'Is the llmcli command on the line this one?'",
        "    set -l found ''",
        "    for word in (commandline -opc)[2..-1]",
        "        if not string match -q -- '-*' $word",
        "            set found $word",
        "            break",
        "        end",
        "    end",
        '    test "$found" = "$argv[1]"',
        "end",
        "",
        "complete -c llmcli -f",
    ]
    for opt in cli.root.options:
        lines += _fish_option("", opt)
    for cmd in cli.commands:
        lines.append(
            f"complete -c llmcli -n '__llmcli_using \"\"' -a {cmd.name} "
            f"-d {_fish_quote(describe(cmd.summary))}"
        )
    for cmd in cli.commands:
        lines.append("")
        for opt in cmd.options:
            lines += _fish_option(cmd.name, opt)
    return "\n".join(lines) + "\n"


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


def _zsh_function(name: str, cmd: Command) -> list[str]:
    specs = [spec for opt in cmd.options for spec in _zsh_specs(opt)]
    for arg in cmd.arguments:
        specs.append(_zsh_quote(f"{'*' if arg.repeatable else ':'}:{arg.name}: "))
    lines = [f"{name}() {{", "  _arguments -s -S : \\"]
    lines += [f"    {spec} \\" for spec in specs[:-1]] + [f"    {specs[-1]}", "}", ""]
    return lines


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
    for cmd in cli.commands:
        lines += _zsh_function(f"_llmcli_{cmd.name}", cmd)
    root_specs = [spec for opt in cli.root.options for spec in _zsh_specs(opt)]
    lines += [
        "_llmcli() {",
        "  local curcontext=$curcontext state state_descr line",
        "  typeset -A opt_args",
        "  integer ret=1",
        "  _arguments -s -C : \\",
        *(f"    {spec} \\" for spec in root_specs),
        "    ': :->command' \\",
        "    '*:: :->argument' && ret=0",
        "  case $state in",
        "    (command)",
        "      local -a commands=(",
        *(f"        {_zsh_quote(c.name + ':' + describe(c.summary))}" for c in cli.commands),
        "      )",
        "      _describe -t commands 'llmcli command' commands && ret=0",
        "      ;;",
        "    (argument)",
        "      curcontext=${curcontext%:*:*}:llmcli-$words[1]:",
        "      case $words[1] in",
        *(f"        ({c.name}) _llmcli_{c.name} && ret=0 ;;" for c in cli.commands),
        "      esac",
        "      ;;",
        "  esac",
        "  return ret",
        "}",
        "",
        "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then",
        '  _llmcli "$@"',
        "else",
        "  compdef _llmcli llmcli",
        "fi",
    ]
    return "\n".join(lines) + "\n"
