"""Shell completion scripts for bash, zsh and fish, written from the command tree.

Each script (bash and fish here, zsh in ``llmcli.docgen.zsh``) completes the command
names, and after a group's name (``llmcli batch``) the names of its commands; every
option of each command; the values of ``click.Choice`` options (``-o``,
``--reasoning-effort``, ``--empty`` …); file names for options and arguments whose
metavar names a file (FILE, PATH, PATH|URL: ``batch run -o FILE`` and its ``[FILE]``);
and gateway names for ``-g/--gateway``, which change with the user's config.toml and so
are asked of ``llmcli gateways --names`` at completion time, its stderr sent to
/dev/null. A command is found on the line by its words that are not options: the first
one, and the next as long as the words so far name a group; groups take no option with a
value, so no option's value can be mistaken for a command.
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


def command_groups(cli: Cli) -> list[Command]:
    """The top level and every group below it: the commands that have commands."""
    groups = [cli.root, *(c for c in cli.walk() if c.subcommands)]
    for group in groups:
        if any(o.takes_value for o in group.options):
            raise NotImplementedError(f"an option with a value before a command: {group.name}")
    return groups


def _bash_pattern(words: str) -> str:
    """A ``case`` pattern matching exactly these words ("" for the top level)."""
    return f'"{words}"' if not words or " " in words else words


def _bash_group(cmd: Command) -> list[str]:
    """Options after ``-``, else the group's commands."""
    spellings = " ".join(s for o in cmd.options for s in o.spellings)
    names = " ".join(c.name for c in cmd.subcommands)
    return [
        f'            if [[ $cur == -* ]]; then _llmcli_words "{spellings}" "$cur"',
        f'            else _llmcli_words "{names}" "$cur"; fi',
    ]


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
    if not any(arg.kind == "file" for arg in cmd.arguments):
        lines.append(
            f'            [[ $cur == -* ]] && _llmcli_words "{_wrapped(words, 16)}" "$cur"'
        )
        return lines
    return [
        *lines,
        "            if [[ $cur == -* ]]; then",
        f'                _llmcli_words "{_wrapped(words, 20)}" "$cur"',
        "            else",
        '                _llmcli_files "$cur"',
        "            fi",
    ]


def bash(cli: Cli) -> str:
    groups = command_groups(cli)
    branches: dict[tuple[str, ...], list[str]] = {}
    for cmd in [cli.root, *cli.walk()]:
        branch = _bash_group(cmd) if cmd in groups else _bash_command(cmd)
        branches.setdefault(tuple(branch), []).append(_bash_pattern(cmd.words))
    body = []
    for lines, patterns in branches.items():
        body += [f"        {'|'.join(patterns)})", *lines, "            ;;"]
    return _BASH.format(
        header=HEADER,
        gateways=GATEWAYS,
        groups="|".join(_bash_pattern(g.words) for g in groups),
        body="\n".join(body),
    )


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
    for ((i = 1; i < COMP_CWORD; i++)); do  # cmd: "", "chat", "batch", "batch run" …
        case ${{COMP_WORDS[i]}} in
            --) return ;;
            -*) ;;
            *) case $cmd in {groups}) cmd=${{cmd:+$cmd }}${{COMP_WORDS[i]}} ;; esac ;;
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


def _fish_using(words: str) -> str:
    """The condition that the command on the line is this one ("" for none yet)."""
    return _fish_quote("__llmcli_using " + (words or '""'))


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
        condition = _fish_using(cmd)
        flags.append(f"-d {_fish_quote(describe(help))}")
        lines.append(f"complete -c llmcli -n {condition} {' '.join(flags)}")
    return lines


def fish(cli: Cli) -> str:
    groups = " ".join(_fish_quote(g.words) for g in command_groups(cli) if g.words)
    lines = [
        "# fish completion for llmcli(1): commands, options, option values, files, gateways.",
        f"# {HEADER}",
        "# Use: source it, or copy it to ~/.config/fish/completions/llmcli.fish",
        "",
        "function __llmcli_using --description 'Is the llmcli command on the line this one?'",
        "    # the words that are not options: the first, and more while they name a group",
        "    set -l found ''",
        "    for word in (commandline -opc)[2..-1]",
        "        if string match -q -- '-*' $word",
        "            continue",
        '        else if test -z "$found"',
        "            set found $word",
        f"        else if contains -- $found {groups}".rstrip(),
        '            set found "$found $word"',
        "        else",
        "            break",
        "        end",
        "    end",
        '    test "$found" = "$argv"',
        "end",
        "",
        "complete -c llmcli -f",
    ]
    for group in command_groups(cli):
        if group.words:
            lines.append("")
        for opt in group.options:
            lines += _fish_option(group.words, opt)
        for cmd in group.subcommands:
            lines.append(
                f"complete -c llmcli -n {_fish_using(group.words)} -a {cmd.name} "
                f"-d {_fish_quote(describe(cmd.summary))}"
            )
    for cmd in cli.walk():
        if cmd.subcommands:
            continue
        lines.append("")
        for opt in cmd.options:
            lines += _fish_option(cmd.words, opt)
        if any(arg.kind == "file" for arg in cmd.arguments):
            lines.append(f"complete -c llmcli -n {_fish_using(cmd.words)} -F")
    return "\n".join(lines) + "\n"
