"""The events of a Responses stream, by what they carry and where it goes in the
``response`` object. No I/O. Every other event passes through untouched."""

from __future__ import annotations

LIFECYCLE = ("response.created", "response.queued", "response.in_progress")
ENDS = ("response.completed", "response.incomplete")
#: delta event -> (the item's list, the index field, the part's text field, Piece kind)
DELTAS: dict[str, tuple[str, str, str, str | None]] = {
    "response.output_text.delta": ("content", "content_index", "text", "content"),
    "response.refusal.delta": ("content", "content_index", "refusal", None),
    "response.reasoning_summary_text.delta": ("summary", "summary_index", "text", "reasoning"),
    "response.reasoning_text.delta": ("content", "content_index", "text", "reasoning"),
}
#: the part type a delta implies, when its part was never announced
PART_TYPES = {
    "response.output_text.delta": "output_text",
    "response.output_text.done": "output_text",
    "response.refusal.delta": "refusal",
    "response.refusal.done": "refusal",
    "response.reasoning_summary_text.delta": "summary_text",
    "response.reasoning_summary_text.done": "summary_text",
    "response.reasoning_text.delta": "reasoning_text",
    "response.reasoning_text.done": "reasoning_text",
}
TEXT_DONE = {kind.replace(".delta", ".done"): where for kind, where in DELTAS.items()}
PART_ADDED = {
    "response.content_part.added": ("content", "content_index"),
    "response.content_part.done": ("content", "content_index"),
    "response.reasoning_summary_part.added": ("summary", "summary_index"),
    "response.reasoning_summary_part.done": ("summary", "summary_index"),
}
ARGUMENTS = {
    "response.function_call_arguments.delta": "arguments",
    "response.custom_tool_call_input.delta": "input",
}
ARGUMENTS_DONE = {
    "response.function_call_arguments.done": "arguments",
    "response.custom_tool_call_input.done": "input",
}
