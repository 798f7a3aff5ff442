"""Words as a reader sees them: case, accents, tags, emoji and URLs."""

from __future__ import annotations

import pytest

from hubbub.listening.text import tokenize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Brightwave's WiFi is DOWN!!", ["brightwave's", "wifi", "is", "down"]),
        ("Café CRÈME naïve", ["cafe", "creme", "naive"]),
        ("Ｆｕｌｌ width", ["full", "width"]),
        ("@Brightwave #BrightwaveFail $BWV", ["@brightwave", "#brightwavefail", "$bwv"]),
        ("router 😡😡 ugh", ["router", "😡", "😡", "ugh"]),
        ("see https://example.com/refund now", ["see", "now"]),
        ("e-mail v2.1 don’t", ["e-mail", "v2.1", "don't"]),
        ("", []),
        ("... !!! ??", []),
        ("\x00\ufffd", ["\ufffd"]),
    ],
)
def test_tokens(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_a_huge_post_is_tokenised_without_trouble() -> None:
    assert len(tokenize("refund " * 50_000)) == 50_000
