"""The reactor's conditions: one vocabulary for tables, plots, CLI options, queue annotations and campaigns.

A point of the flow reactor is three conditions. Everything that names one — a campaign's
bounds, a table column, a plot label, a ``--residence-time-s`` option, a queueserver parameter
annotation, the keys of a start document — reads it from :data:`CONDITIONS`, so a fourth
condition (a precursor ratio, say) is added here once.

The allowed range of each condition is not a constant: it comes from the reactor
(:meth:`autolab.devices.FlowReactor.limits`), from the device named in ``limits_from``.

Examples
--------
>>> [c.name for c in CONDITIONS]
['nucleation_temperature_c', 'growth_temperature_c', 'residence_time_s']
>>> condition("residence_time_s").option
'--residence-time-s'
>>> condition("growth_temperature_c").label
'growth temperature (°C)'
>>> condition("residence_time_s").plural_option
'--residence-times-s'
>>> describe({"nucleation_temperature_c": 280, "residence_time_s": 14.0})
'nucleation 280 °C, residence 14 s'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CONDITIONS", "NAMES", "Condition", "condition", "describe", "unknown_condition_message"]


@dataclass(frozen=True)
class Condition:
    """One reactor condition.

    Attributes
    ----------
    name : str
        The key everywhere (start documents, bounds, plan arguments): snake case with its unit.
    unit : str
        The unit, in the field's customary form (``"°C"``, ``"s"``).
    description : str
        What the condition is, one line (CLI help, queue annotations).
    words : str
        The condition in a sentence (``"nucleation"`` in "nucleation 280 °C").
    column : str
        A short table header with the unit (``"T_nuc °C"``).
    scale : {"linear", "log"}
        How an optimiser searches it by default (a residence time spans decades).
    limits_from : str
        Which part of the reactor sets its allowed range.
    """

    name: str
    unit: str
    description: str
    words: str
    column: str
    scale: str
    limits_from: str

    @property
    def label(self) -> str:
        """An axis label: ``"residence time (s)"``."""
        return f"{self.description_short} ({self.unit})"

    @property
    def description_short(self) -> str:
        """The name in words, without the unit: ``"residence time"``."""
        return self.name.rsplit("_", 1)[0].replace("_", " ")

    @property
    def option(self) -> str:
        """The command-line option, with its unit: ``"--residence-time-s"``."""
        return "--" + self.name.replace("_", "-")

    @property
    def plural(self) -> str:
        """The key of a list of values (``phase_map``'s arguments): ``"residence_times_s"``."""
        stem, suffix = self.name.rsplit("_", 1)
        return f"{stem}s_{suffix}"

    @property
    def plural_option(self) -> str:
        """The command-line option of a list of values: ``"--residence-times-s"``."""
        return "--" + self.plural.replace("_", "-")

    @property
    def help(self) -> str:
        """CLI help text: the description and the unit."""
        return f"{self.description}, {self.unit}."

    @property
    def plural_help(self) -> str:
        """CLI help text of a list option: ``"Comma-separated residence times, s."``."""
        words = self.plural.rsplit("_", 1)[0].replace("_", " ")
        return f"Comma-separated {words}, {self.unit}."

    def format(self, value: float, digits: int = 6) -> str:
        """``"280 °C"``, ``"14 s"``: ``value`` to ``digits`` significant digits and the unit."""
        return f"{value:.{digits}g} {self.unit}"


#: The reactor's conditions, in the order of ``measure_point``'s arguments.
CONDITIONS: tuple[Condition, ...] = (
    Condition(
        name="nucleation_temperature_c",
        unit="°C",
        description="Nucleation chamber temperature",
        words="nucleation",
        column="T_nuc °C",
        scale="linear",
        limits_from="nucleation heater",
    ),
    Condition(
        name="growth_temperature_c",
        unit="°C",
        description="Growth oven temperature",
        words="growth",
        column="T_growth °C",
        scale="linear",
        limits_from="growth oven",
    ),
    Condition(
        name="residence_time_s",
        unit="s",
        description="Growth-oven residence time",
        words="residence",
        column="t_res s",
        scale="log",
        limits_from="pumps' flow-rate range and the reactor volumes",
    ),
)

#: The conditions' names, in order.
NAMES: tuple[str, ...] = tuple(c.name for c in CONDITIONS)

_BY_NAME = {c.name: c for c in CONDITIONS}


def condition(name: str) -> Condition:
    """The condition called ``name``.

    Raises
    ------
    KeyError
        With the known names, if ``name`` is not a condition.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(unknown_condition_message(name)) from None


def describe(values: Mapping[str, float], digits: int = 4) -> str:
    """The conditions in ``values`` in words, in the vocabulary's order: ``"nucleation 280 °C, growth 270 °C, residence 14 s"``.

    Keys that are not conditions, and conditions missing from ``values`` or ``None``, are left out.
    """
    return ", ".join(f"{c.words} {c.format(values[c.name], digits)}" for c in CONDITIONS if values.get(c.name) is not None)


def unknown_condition_message(name: object, what: str = "condition") -> str:
    """``"unknown condition 'pressure_bar'; the conditions are nucleation_temperature_c, …"``."""
    return f"unknown {what} {name!r}; the conditions are {', '.join(NAMES)}"
