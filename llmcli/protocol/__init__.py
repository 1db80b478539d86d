"""The wire formats, no I/O: SSE, each dialect's request shapes and stream assembly
(Chat Completions, Anthropic Messages), pieces, embeddings, model lists, schemas.
"""
