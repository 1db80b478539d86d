# bash completion for llmcli(1): commands, options, option values, files, gateway names.
# Generated from the Typer app by `python -m llmcli.docgen`: do not edit.
# Use: source it, or copy it to ~/.local/share/bash-completion/completions/llmcli

_llmcli_words() {
    mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2")
}

_llmcli_files() {
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

_llmcli_gateway_names() {
    # built-in gateways and the config file's; a broken config file stays silent
    _llmcli_words "$(command llmcli gateways --names 2>/dev/null)" "$1"
}

_llmcli() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd="" i
    COMPREPLY=()
    if [[ $cur == "=" ]]; then  # --option=value: bash splits the word at '='
        cur=""
    elif [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then
        prev=${COMP_WORDS[COMP_CWORD-2]}
    fi
    for ((i = 1; i < COMP_CWORD; i++)); do  # cmd: "", "chat", "batch", "batch run" …
        case ${COMP_WORDS[i]} in
            --) return ;;
            -*) ;;
            *) case $cmd in ""|batch|templates|mcp) cmd=${cmd:+$cmd }${COMP_WORDS[i]} ;; esac ;;
        esac
    done
    case $cmd in
        "")
            if [[ $cur == -* ]]; then _llmcli_words "--version -V -h --help" "$cur"
            else _llmcli_words "chat stream messages responses models embed gateways serve batch templates mcp" "$cur"; fi
            ;;
        chat|stream)
            case $prev in
                -f|--file|-a|--attach|--messages|-c|--continue|--body|--record|--replay|--tools|--schema) _llmcli_files "$cur"; return ;;
                -s|--system|-t|--template|-V|--var|--max-cost|--base-url|-m|--model|-H|--header|--timeout|--connect-timeout|--retries|--tool-cmd|--mcp|--approve|--max-steps|--tool-timeout|--tool-output-max|--cache-ttl|--fallback|--temperature|--top-p|--max-tokens|--max-completion-tokens|--stop|--seed|--frequency-penalty|--presence-penalty|--response-format|--tool-choice|--reasoning-budget|--chat-template-kwargs|--top-logprobs|--user|--stream-options|--conversation-id|--tool|-p|--param) :; return ;;
                -g|--gateway) _llmcli_gateway_names "$cur"; return ;;
                -o|--output) _llmcli_words "text json jsonl sse" "$cur"; return ;;
                --reasoning-effort) _llmcli_words "none minimal low medium high xhigh" "$cur"; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "-f --file -a --attach -s --system --messages -c --continue --body --no-stdin
                -t --template -V --var --max-cost -g --gateway --base-url -m --model -H
                --header --timeout --connect-timeout --retries --dry-run -v --verbose
                --usage --refresh-prices --debug --record --replay -o --output --reasoning
                --tool-cmd --mcp --approve --max-steps --tool-timeout --tool-output-max
                --cache --no-cache --cache-ttl --refresh-cache --render --no-render
                --fallback --temperature --top-p --max-tokens --max-completion-tokens --stop
                --seed --frequency-penalty --presence-penalty --response-format --tools
                --tool-choice --reasoning-effort --reasoning-budget --reasoning-exclude
                --reasoning-enabled --reasoning-disabled --thinking --no-thinking
                --chat-template-kwargs --logprobs --top-logprobs --user --stream-options
                --conversation-id --memory --no-memory --tool --json --schema -p --param -h
                --help" "$cur"
            ;;
        messages)
            case $prev in
                -f|--file|-a|--attach|--messages|-c|--continue|--body|--record|--replay|--tools|--schema) _llmcli_files "$cur"; return ;;
                -s|--system|-t|--template|-V|--var|--max-cost|--base-url|-m|--model|-H|--header|--timeout|--connect-timeout|--retries|--tool-cmd|--mcp|--approve|--max-steps|--tool-timeout|--tool-output-max|--cache-ttl|--fallback|--max-tokens|--thinking-budget|--temperature|--top-p|--top-k|--stop|--tool|--tool-choice|--metadata|-p|--param) :; return ;;
                -g|--gateway) _llmcli_gateway_names "$cur"; return ;;
                -o|--output) _llmcli_words "text json jsonl sse" "$cur"; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "-f --file -a --attach -s --system --messages -c --continue --body --no-stdin
                -t --template -V --var --max-cost -g --gateway --base-url -m --model -H
                --header --timeout --connect-timeout --retries --dry-run -v --verbose
                --usage --refresh-prices --debug --record --replay -o --output --stream
                --reasoning --tool-cmd --mcp --approve --max-steps --tool-timeout
                --tool-output-max --cache --no-cache --cache-ttl --refresh-cache --render
                --no-render --fallback --max-tokens --thinking-budget --temperature --top-p
                --top-k --stop --tools --tool --tool-choice --metadata --json --schema -p
                --param -h --help" "$cur"
            ;;
        responses)
            case $prev in
                -f|--file|-a|--attach|--messages|-c|--continue|--body|--record|--replay|--tools|--schema) _llmcli_files "$cur"; return ;;
                -s|--system|-t|--template|-V|--var|--max-cost|--base-url|-m|--model|-H|--header|--timeout|--connect-timeout|--retries|--tool-cmd|--mcp|--approve|--max-steps|--tool-timeout|--tool-output-max|--cache-ttl|--fallback|--max-output-tokens|--reasoning-effort|--reasoning-summary|--previous-response-id|--include|--temperature|--top-p|--tool|--tool-choice|--metadata|-p|--param) :; return ;;
                -g|--gateway) _llmcli_gateway_names "$cur"; return ;;
                -o|--output) _llmcli_words "text json jsonl sse" "$cur"; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "-f --file -a --attach -s --system --messages -c --continue --body --no-stdin
                -t --template -V --var --max-cost -g --gateway --base-url -m --model -H
                --header --timeout --connect-timeout --retries --dry-run -v --verbose
                --usage --refresh-prices --debug --record --replay -o --output --stream
                --reasoning --tool-cmd --mcp --approve --max-steps --tool-timeout
                --tool-output-max --cache --no-cache --cache-ttl --refresh-cache --render
                --no-render --fallback --max-output-tokens --reasoning-effort
                --reasoning-summary --store --no-store --previous-response-id --include
                --temperature --top-p --tools --tool --tool-choice --metadata --json
                --schema -p --param -h --help" "$cur"
            ;;
        models)
            case $prev in
                -g|--gateway) _llmcli_gateway_names "$cur"; return ;;
                --base-url|-m|--model|-H|--header|--timeout|--connect-timeout|--retries|--tag|--search|-q) :; return ;;
                --record|--replay) _llmcli_files "$cur"; return ;;
                -o|--output) _llmcli_words "text json jsonl sse" "$cur"; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "-g --gateway --base-url -m --model -H --header --timeout --connect-timeout
                --retries --dry-run -v --verbose --usage --refresh-prices --debug --record
                --replay -o --output --tag --search -q -h --help" "$cur"
            ;;
        embed)
            case $prev in
                -f|--file|--body|--record|--replay) _llmcli_files "$cur"; return ;;
                --field|--base-url|-m|--model|-H|--header|--timeout|--connect-timeout|--retries|--batch-size|--parallel|--dimensions|-p|--param|--cache-ttl) :; return ;;
                --empty) _llmcli_words "skip error" "$cur"; return ;;
                -g|--gateway) _llmcli_gateway_names "$cur"; return ;;
                -o|--output) _llmcli_words "text json jsonl sse" "$cur"; return ;;
                --encoding-format) _llmcli_words "float base64" "$cur"; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "-f --file --whole --jsonl-in --field --empty --no-stdin --body -g --gateway
                --base-url -m --model -H --header --timeout --connect-timeout --retries
                --dry-run -v --verbose --usage --refresh-prices --debug --record --replay -o
                --output --batch-size --parallel --dimensions --encoding-format -p --param
                --cache --no-cache --cache-ttl --refresh-cache -h --help" "$cur"
            ;;
        gateways)
            case $prev in
                -o|--output) _llmcli_words "text json jsonl sse" "$cur"; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "-o --output --names -h --help" "$cur"
            ;;
        serve)
            case $prev in
                --port|--host|--profile|--fault|--batch-seconds|--latency) :; return ;;
                --batch-dir|--replay) _llmcli_files "$cur"; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "--port --host --profile --fault --quiet -q --batch-dir --batch-seconds
                --replay --latency -h --help" "$cur"
            ;;
        batch)
            if [[ $cur == -* ]]; then _llmcli_words "-h --help" "$cur"
            else _llmcli_words "run submit status fetch cancel list" "$cur"; fi
            ;;
        "batch run")
            case $prev in
                -g|--gateway) _llmcli_gateway_names "$cur"; return ;;
                --base-url|-m|--model|-H|--header|--timeout|--connect-timeout|--retries|-P|--parallel|--rpm|--tpm|--max-wait|--shard|-s|--system|--max-tokens|--temperature|-p|--param|--max-cost|-t|--template|-V|--var|--tool-cmd|--mcp|--approve|--max-steps|--tool-timeout|--tool-output-max|--cache-ttl) :; return ;;
                --record|--replay|-o|--output) _llmcli_files "$cur"; return ;;
            esac
            if [[ $cur == -* ]]; then
                _llmcli_words "-g --gateway --base-url -m --model -H --header --timeout
                    --connect-timeout --retries --dry-run -v --verbose --usage
                    --refresh-prices --debug --record --replay -o --output --resume -P
                    --parallel --rpm --tpm --max-wait --unordered --shard -s --system
                    --max-tokens --temperature -p --param --max-cost -t --template -V --var
                    --tool-cmd --mcp --approve --max-steps --tool-timeout --tool-output-max
                    --cache --no-cache --cache-ttl --refresh-cache -h --help" "$cur"
            else
                _llmcli_files "$cur"
            fi
            ;;
        "batch submit")
            case $prev in
                -g|--gateway) _llmcli_gateway_names "$cur"; return ;;
                --base-url|-m|--model|-H|--header|--timeout|--connect-timeout|--retries|-s|--system|--max-tokens|--temperature|-p|--param) :; return ;;
                --record|--replay) _llmcli_files "$cur"; return ;;
            esac
            if [[ $cur == -* ]]; then
                _llmcli_words "-g --gateway --base-url -m --model -H --header --timeout
                    --connect-timeout --retries --dry-run -v --verbose --usage
                    --refresh-prices --debug --record --replay -s --system --max-tokens
                    --temperature -p --param -h --help" "$cur"
            else
                _llmcli_files "$cur"
            fi
            ;;
        "batch status"|"batch cancel")
            case $prev in
                -g|--gateway) _llmcli_gateway_names "$cur"; return ;;
                --base-url|-m|--model|-H|--header|--timeout|--connect-timeout|--retries) :; return ;;
                --record|--replay) _llmcli_files "$cur"; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "-g --gateway --base-url -m --model -H --header --timeout --connect-timeout
                --retries --dry-run -v --verbose --usage --refresh-prices --debug --record
                --replay -h --help" "$cur"
            ;;
        "batch fetch")
            case $prev in
                -g|--gateway) _llmcli_gateway_names "$cur"; return ;;
                --base-url|-m|--model|-H|--header|--timeout|--connect-timeout|--retries) :; return ;;
                --record|--replay|-o|--output) _llmcli_files "$cur"; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "-g --gateway --base-url -m --model -H --header --timeout --connect-timeout
                --retries --dry-run -v --verbose --usage --refresh-prices --debug --record
                --replay -o --output --wait -h --help" "$cur"
            ;;
        "batch list")
            case $prev in
                -g|--gateway) _llmcli_gateway_names "$cur"; return ;;
                --base-url|-m|--model|-H|--header|--timeout|--connect-timeout|--retries|--limit) :; return ;;
                --record|--replay) _llmcli_files "$cur"; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "-g --gateway --base-url -m --model -H --header --timeout --connect-timeout
                --retries --dry-run -v --verbose --usage --refresh-prices --debug --record
                --replay --limit -h --help" "$cur"
            ;;
        templates)
            if [[ $cur == -* ]]; then _llmcli_words "-h --help" "$cur"
            else _llmcli_words "show" "$cur"; fi
            ;;
        "templates show")
            case $prev in
            esac
            [[ $cur == -* ]] && _llmcli_words "-h --help" "$cur"
            ;;
        mcp)
            if [[ $cur == -* ]]; then _llmcli_words "-h --help" "$cur"
            else _llmcli_words "list-tools" "$cur"; fi
            ;;
        "mcp list-tools")
            case $prev in
                --timeout) :; return ;;
            esac
            [[ $cur == -* ]] && _llmcli_words "--timeout -h --help" "$cur"
            ;;
    esac
}

complete -F _llmcli llmcli
