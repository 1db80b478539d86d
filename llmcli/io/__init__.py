"""What the CLI reads and writes: inputs, attachments, conversation files, output
writers (rich only for terminals). Used by ``llmcli.cli`` only.
"""
