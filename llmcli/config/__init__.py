"""Gateways: built-ins, the user's config file, the environment and flags.

``gateway`` (the ``Gateway`` value) is a leaf; ``builtin``, ``file`` and ``schema``
describe gateways; ``keys`` finds a gateway's key; ``resolve`` picks the gateway a
command talks to. Dependencies point that way only: no import cycle.
"""

from llmcli.config.gateway import ALL_ENDPOINTS, CUSTOM, ENDPOINT_PATHS, MOCK, Gateway, Resolved
from llmcli.config.keys import read_key
from llmcli.config.resolve import gateway_names, known_gateways, resolve, select

__all__ = [
    "ALL_ENDPOINTS",
    "CUSTOM",
    "ENDPOINT_PATHS",
    "MOCK",
    "Gateway",
    "Resolved",
    "gateway_names",
    "known_gateways",
    "read_key",
    "resolve",
    "select",
]
