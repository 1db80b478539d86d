"""The wire formats, no I/O: SSE; each dialect in its package (``chat``: Chat
Completions, ``messages``: Anthropic's Messages, ``responses``: the Responses API), its
request shapes and stream assembly, none importing another; what they share
(``dialect``, ``pieces``, ``parts``, ``error_objects``); embeddings, model lists,
prices, schemas.
"""
