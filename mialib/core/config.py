"""The base of every settings object here: a frozen dataclass whose fields are typed parameters
with defaults (in the style of diffusers' configs). Field types are checked on construction (a
number given as a string is an error naming the field), ranges in :meth:`Config.validate`, and
:meth:`Config.replace` refuses names the class does not have, so a typo in a profile or a
notebook cell fails at once instead of silently running the defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from .checks import check_field_types


@dataclass(frozen=True)
class Config:
    """Typed, checked, immutable settings; subclasses add fields and :meth:`validate`."""

    def __post_init__(self):
        check_field_types(self)
        self.validate()

    def validate(self) -> None:
        """Range checks (ValueError)."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def replace(self, **overrides) -> "Config":
        """A copy with ``overrides`` applied; an unknown name is a ValueError listing the known ones."""
        unknown = sorted(set(overrides) - set(self.field_names()))
        if unknown:
            raise ValueError(f"{type(self).__name__} has no parameter(s) {unknown}; it takes "
                             f"{self.field_names()}")
        return dataclasses.replace(self, **overrides)

    @classmethod
    def from_overrides(cls, overrides: Mapping | None = None) -> "Config":
        """The defaults with ``overrides`` (a mapping, e.g. from a profile) applied."""
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ValueError(f"{cls.__name__} settings must be a mapping of name: value, got "
                             f"{type(overrides).__name__}")
        return cls().replace(**dict(overrides or {}))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
