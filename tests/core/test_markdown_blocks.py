"""``llmcli.io.markdown.Blocks``: streamed text cut into the parts rendered once each."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from llmcli.io.markdown import Blocks, MarkdownStream, Part, Preview

SAMPLE = (
    "# Title\n"
    "A paragraph\nof two lines.\n"
    "\n"
    "- one\n"
    "  more of one\n"
    "- two\n"
    "\n"
    "~~~~js\n"
    "let a = 1;\n"
    "~~~\n"
    "~~~~~\n"
    "\n"
    "| a | b |\n"
    "|---|---|\n"
    "| 1 | 2 |\n"
    "***\n"
    "end"
)
PARTS = [
    Part("block", "# Title"),
    Part("block", "A paragraph\nof two lines."),
    Part("gap"),
    Part("block", "- one\n  more of one"),
    Part("block", "- two"),
    Part("gap"),
    Part("code", None, "js"),
    Part("code", "let a = 1;", "js"),
    Part("code", "~~~", "js"),  # shorter than its opener: a line of the code
    Part("code", None, "js"),
    Part("gap"),
    Part("block", "| a | b |\n|---|---|\n| 1 | 2 |\n***\nend"),
]


def parts(*chunks: str) -> list[Part]:
    blocks = Blocks()
    found = [p for chunk in chunks for p in blocks.feed(chunk)]
    return found + list(blocks.close())


def test_the_parts_of_a_reply() -> None:
    assert parts(SAMPLE) == PARTS


@given(st.lists(st.integers(min_value=0, max_value=len(SAMPLE)), max_size=30))
def test_however_the_stream_is_cut_the_parts_are_the_same(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(SAMPLE)]
    chunks = [SAMPLE[a:b] for a, b in itertools.pairwise(points)]
    assert parts(*chunks) == PARTS


def test_a_part_is_given_as_soon_as_it_is_whole() -> None:
    blocks = Blocks()
    assert list(blocks.feed("para")) == []
    assert list(blocks.feed("graph\n")) == []  # a paragraph may go on
    assert list(blocks.feed("\n")) == [Part("block", "paragraph"), Part("gap")]
    assert list(blocks.feed("```py\nx = 1\n")) == [
        Part("code", None, "py"),
        Part("code", "x = 1", "py"),
    ]
    assert list(blocks.feed("## Next\n")) == [Part("code", "## Next", "py")]
    assert list(blocks.close()) == [Part("code", None, "py")]  # an open fence is closed


def test_a_heading_ends_the_paragraph_before_it() -> None:
    assert parts("words\n## H\nmore") == [
        Part("block", "words"),
        Part("block", "## H"),
        Part("block", "more"),
    ]


def test_controls_are_shown_not_sent_and_crlf_ends_a_line() -> None:
    assert parts("a\x1b[2Jb\x07\r", "\nc\rd\t") == [Part("block", "a\\x1b[2Jb\\x07\nc\\x0dd\t")]


def test_backticks_in_an_info_string_make_no_fence() -> None:
    assert parts("``` a`b\ntext") == [Part("block", "``` a`b\ntext")]


def test_a_stream_renders_each_part_once_and_no_color_has_no_escape() -> None:
    stream = MarkdownStream(40, color=False)
    shown = "".join(stream.feed(SAMPLE[i : i + 3]) for i in range(0, len(SAMPLE), 3))
    shown += stream.close()
    assert "\x1b" not in shown
    assert shown.count("Title") == 1 and shown.count("let a = 1;") == 1
    assert "~~~~js" not in shown and "|---|" not in shown


def test_the_preview_follows_the_terminal_s_cursor() -> None:
    preview = Preview(10)
    assert preview.erase() == ""  # nothing shown, nothing to erase
    preview.add("abc")
    assert (preview.down, preview.col) == (0, 3)
    preview.add("defghij")  # 10 cells: the row is full, the cursor still on it
    assert (preview.down, preview.col) == (0, 10)
    preview.add("k")
    assert (preview.down, preview.col) == (1, 1)
    preview.add("\na" + "日" * 4 + "本")  # 9 cells, then a wide one at column 10: wraps whole
    assert (preview.down, preview.col) == (3, 2)
    preview.add("\t|")  # a tab to 8
    assert (preview.down, preview.col) == (3, 9)
    preview.add("\t\t")  # never past the last column
    assert (preview.down, preview.col) == (3, 9)
    assert preview.erase() == "\r\x1b[3A\x1b[J"
    assert preview.erase() == ""


def test_a_live_stream_shows_the_unfinished_block_raw_then_replaces_it() -> None:
    stream = MarkdownStream(40, color=True, height=20)
    assert stream.feed("some **bo") == "some **bo"
    assert stream.feed("ld**") == "ld**"
    shown = stream.feed(" words\n\nnext")
    assert shown.startswith("\r\x1b[J")  # the raw words shown (one row) erased
    assert "\x1b[1mbold\x1b[0m" in shown and shown.endswith("\nnext")
    assert stream.close().startswith("\r\x1b[J")


def test_a_preview_stops_short_of_the_screen_and_loses_nothing() -> None:
    stream = MarkdownStream(40, color=False, height=4)  # no colour: no preview at all
    assert stream.feed("one\ntwo") == ""
    stream = MarkdownStream(40, color=True, height=4)
    assert stream.feed("one\ntwo\nthree") == "one\ntwo\nthree"
    assert stream.feed("\nfour") == ""  # a fourth row would scroll the first off
    shown = stream.feed(" five.\n\n")
    assert shown.startswith("\r\x1b[2A\x1b[J")  # the three rows shown, erased
    assert "one two three four five." in shown  # the whole block, drawn once
    assert stream.close() == ""


def test_a_long_line_in_many_chunks_is_not_copied_per_chunk() -> None:
    blocks = Blocks()
    for _ in range(100_000):
        assert list(blocks.feed("abcd")) == []
    (part,) = list(blocks.feed("\n\n"))[:1]
    assert part == Part("block", "abcd" * 100_000)
