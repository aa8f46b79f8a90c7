"""Durations, identifiers and probability distributions as they are written in scenario files.

Durations are numbers of seconds, or strings with a unit (``90s``, ``15min``, ``1h30min``).
A clock-like ``12:30`` is refused: YAML 1.1 would read it as the sexagesimal number 750, and a
user who meant half past twelve, or twelve minutes thirty, would silently get something else.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Final, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|hr|s|h)")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as ``"90s"``, ``"15min"`` or ``"1h30min"``."""
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or a string like '90s' or '15min'")
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{value:.3g} is too large for a duration") from None
    if isinstance(value, str):
        text = value.strip().lower()
        if ":" in text:
            raise ValueError(
                f"'{value}' looks like a clock time; write seconds (e.g. 750) "
                "or a unit (e.g. '12min30s')"
            )
        try:
            return float(text)
        except ValueError:
            pass
        pos, total = 0, 0.0
        for match in _PART.finditer(text.replace(" ", "")):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos == len(text.replace(" ", "")) and pos > 0:
            return total
        raise ValueError(f"'{value}' is not a duration; use seconds or units ms, s, min, h")
    raise ValueError("a duration must be a number of seconds or a string like '90s' or '15min'")


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


#: Longest name (names become folder and file names).
MAX_IDENTIFIER: Final = 100


def _identifier(value: str) -> str:
    if len(value) > MAX_IDENTIFIER:
        raise ValueError(f"a name may have at most {MAX_IDENTIFIER} characters")
    if not IDENTIFIER_RE.fullmatch(value):  # fullmatch: "$" would let a trailing newline in
        raise ValueError(
            f"'{value}' is not a valid name; use letters, digits and _, not starting with a digit"
        )
    return value


#: Seconds, written as a number or with a unit; never negative.
Duration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_finite), Field(ge=0)]
#: A probability in [0, 1].
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
#: A name usable as a Python identifier (zones, configurations, staff groups).
Identifier = Annotated[str, AfterValidator(_identifier)]
NonNegFloat = Annotated[float, AfterValidator(_finite), Field(ge=0.0)]
PosFloat = Annotated[float, AfterValidator(_finite), Field(gt=0.0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(ge=1)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fixed(_Frozen):
    """Always the same value."""

    dist: Literal["fixed"] = "fixed"
    value: Duration = Field(description="The value (seconds for times).")

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        """Draw from the distribution."""
        return self.value if size is None else np.full(size, self.value)

    @property
    def mean(self) -> float:
        """Expected value."""
        return self.value


class Uniform(_Frozen):
    """Uniform between ``low`` and ``high``."""

    dist: Literal["uniform"]
    low: Duration = Field(description="Lower bound.")
    high: Duration = Field(description="Upper bound (not below low).")

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        """Draw from the distribution."""
        return rng.uniform(self.low, max(self.low, self.high), size)

    @property
    def mean(self) -> float:
        """Expected value."""
        return 0.5 * (self.low + max(self.low, self.high))


class Exponential(_Frozen):
    """Exponential with the given mean (memoryless waiting time)."""

    dist: Literal["exponential"]
    mean_value: Duration = Field(alias="mean", description="Mean.")
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        """Draw from the distribution."""
        return rng.exponential(self.mean_value, size)

    @property
    def mean(self) -> float:
        """Expected value."""
        return self.mean_value


class LogNormal(_Frozen):
    """Log-normal with the given median and log-scale ``sigma`` (right-skewed delays)."""

    dist: Literal["lognormal"]
    median: Duration = Field(description="Median.")
    sigma: NonNegFloat = Field(0.5, description="Standard deviation of the logarithm.")

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        """Draw from the distribution."""
        if self.median == 0:
            return 0.0 if size is None else np.zeros(size)
        return rng.lognormal(math.log(self.median), self.sigma, size)

    @property
    def mean(self) -> float:
        """Expected value."""
        return self.median * math.exp(self.sigma**2 / 2)


class Normal(_Frozen):
    """Normal with mean and sd, clipped to ``[min, max]``."""

    dist: Literal["normal"]
    mean_value: float = Field(alias="mean", description="Mean.")
    sd: NonNegFloat = Field(description="Standard deviation.")
    min: float = Field(0.0, description="Values below are raised to this.")
    max: float = Field(math.inf, description="Values above are lowered to this.")
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        """Draw from the distribution."""
        return np.clip(rng.normal(self.mean_value, self.sd, size), self.min, self.max)

    @property
    def mean(self) -> float:
        """Expected value (before clipping)."""
        return self.mean_value


Distribution = Annotated[
    Fixed | Uniform | Exponential | LogNormal | Normal, Field(discriminator="dist")
]


def _number_to_fixed(value: Any) -> Any:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"dist": "fixed", "value": value}
    return value


#: A distribution, or a plain number (or duration string) meaning a fixed value.
Dist = Annotated[Distribution, BeforeValidator(_number_to_fixed)]
