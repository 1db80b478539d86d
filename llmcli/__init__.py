"""llmcli: a pipe-first command-line client for LLM gateways."""

__version__ = "0.1.0"
