"""The caption vocabulary of the coloured digits (notebook 07): "a red digit seven" names the
digit and the ink of one image, the text a text-to-image model is trained and attacked under."""

from __future__ import annotations

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COLOUR_WORDS = ("red", "blue")


def caption(digit: int, colour: int) -> str:
    """"a red digit seven" for digit 7 in ink 0."""
    return f"a {COLOUR_WORDS[int(colour)]} digit {DIGIT_WORDS[int(digit)]}"
