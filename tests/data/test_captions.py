"""The caption vocabulary of the coloured digits."""

from __future__ import annotations

import pytest

from mialib.data.captions import COLOUR_WORDS, DIGIT_WORDS, caption


def test_caption_names_the_ink_then_the_digit():
    assert caption(7, 0) == "a red digit seven" and caption(0, 1) == "a blue digit zero"
    assert len(DIGIT_WORDS) == 10 and COLOUR_WORDS == ("red", "blue")  # ink 0 is RED in data.coloured
    assert len({caption(d, c) for d in range(10) for c in range(2)}) == 20


def test_out_of_range_digits_are_refused():
    with pytest.raises(IndexError):
        caption(10, 0)
