"""Error bodies of the offline gateway, in the shape of each profile's ``errors`` style.

``openai`` (chat, models, embeddings): ``{"error": {"message", "type", "code"}}``.
``anthropic`` (messages, and every endpoint of the ``anthropic`` profile): ``{"type":
"error", "error": {"type", "message"}}``. ``llmbase`` (seed 003): ``{"error": {"message",
"type"}}`` without ``code``, 502 "All upstream providers failed". ``lumyxai`` (seed 004):
the OpenAI shape with the seed's type per status (401 authentication_error, 403
authorization_error, 400 invalid_request_error, 404 not_found_error, 429
rate_limit_error, 5xx server_error). Also the HTML page a proxy sends, and
``RequestError`` raised by request validation; ``OpenAIError`` is one that OpenAI's API
sends with all four fields (``param``, and a ``code`` that may be null), as the Responses
endpoint does.
"""

from __future__ import annotations

from http import HTTPStatus

import orjson

__all__ = [
    "OpenAIError",
    "RequestError",
    "anthropic_error",
    "error_body",
    "html_page",
    "openai_error",
    "reason",
]

# status: (OpenAI type, OpenAI code, Anthropic type, message)
_TABLE: dict[int, tuple[str, str, str, str]] = {
    400: ("invalid_request_error", "invalid_request", "invalid_request_error", "bad request"),
    401: ("authentication_error", "invalid_api_key", "authentication_error", "invalid API key"),
    402: ("insufficient_balance", "insufficient_balance", "billing_error", "insufficient balance"),
    403: ("permission_error", "forbidden", "permission_error", "forbidden"),
    404: ("not_found_error", "not_found", "not_found_error", "not found"),
    408: ("timeout_error", "request_timeout", "timeout_error", "request timed out"),
    413: ("invalid_request_error", "request_too_large", "request_too_large", "request too large"),
    422: (
        "invalid_request_error",
        "unprocessable_entity",
        "invalid_request_error",
        "unprocessable entity",
    ),
    429: ("rate_limit_error", "rate_limit_exceeded", "rate_limit_error", "rate limit exceeded"),
    500: ("server_error", "internal_error", "api_error", "internal server error"),
    502: ("server_error", "bad_gateway", "api_error", "all upstream providers failed"),
    503: ("server_error", "service_unavailable", "api_error", "service unavailable"),
    504: ("server_error", "gateway_timeout", "api_error", "upstream timed out"),
    529: ("overloaded_error", "overloaded", "overloaded_error", "Overloaded"),
}


def _entry(status: int) -> tuple[str, str, str, str]:
    found = _TABLE.get(status)
    if found is not None:
        return found
    if status >= 500:
        return ("server_error", "server_error", "api_error", reason(status).lower() or "error")
    return (
        "invalid_request_error",
        "error",
        "invalid_request_error",
        reason(status).lower() or "error",
    )


def reason(status: int) -> str:
    """The reason phrase for a status line ("Overloaded" for 529, "" when unknown)."""
    if status == 529:
        return "Overloaded"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class RequestError(Exception):
    """A request the gateway rejects: status, message, and optionally type and code."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, type_: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.type = type_

    def body(self, style: str) -> bytes:
        """The error body in a profile's ``errors`` style."""
        return error_body(style, self.status, self.message, code=self.code, type_=self.type)


class OpenAIError(RequestError):
    """A ``RequestError`` as OpenAI's API words it: ``{"error": {message, type, param,
    code}}``, ``param`` and ``code`` null when None; other styles as ``RequestError``."""

    def __init__(
        self, status: int, message: str, *, type_: str, param: str | None, code: str | None
    ) -> None:
        super().__init__(status, message, code=code, type_=type_)
        self.param = param

    def body(self, style: str) -> bytes:
        if style != "openai":
            return super().body(style)
        fields = {"message": self.message, "type": self.type, "param": self.param}
        return orjson.dumps({"error": {**fields, "code": self.code}})


def openai_error(
    status: int, message: str | None = None, *, code: str | None = None, type_: str | None = None
) -> bytes:
    """An OpenAI-style error body."""
    kind, default_code, _, default_message = _entry(status)
    return orjson.dumps(
        {
            "error": {
                "message": message or default_message,
                "type": type_ or kind,
                "code": code or default_code,
            }
        }
    )


def anthropic_error(status: int, message: str | None = None) -> bytes:
    """An Anthropic-style error body."""
    _, _, kind, default_message = _entry(status)
    error = {"type": kind, "message": message or default_message}
    return orjson.dumps({"type": "error", "error": error})


# seed 003's table of statuses
_LLMBASE_MESSAGES = {
    400: "Bad request: missing or invalid fields",
    401: "Authentication failed: check your API key",
    404: "Model not found",
    502: "All upstream providers failed",
}
# seed 004's "Common error types"
_LUMYXAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "authorization_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def error_body(
    style: str,
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    type_: str | None = None,
) -> bytes:
    """An error body in a profile's ``errors`` style (see the module docstring)."""
    if style == "anthropic":
        return anthropic_error(status, message)
    if style == "llmbase":
        kind, _, _, default = _entry(status)
        text = message or _LLMBASE_MESSAGES.get(status, default)
        return orjson.dumps({"error": {"message": text, "type": type_ or kind}})
    if style == "lumyxai":
        type_ = _LUMYXAI_TYPES.get(status, "server_error" if status >= 500 else type_)
    return openai_error(status, message, code=code, type_=type_)


def html_page(status: int) -> bytes:
    """The kind of HTML page a reverse proxy answers with."""
    title = f"{status} {reason(status)}".strip()
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
