"""The twin's declared validity domain (issue 19, item 7): the region the seed papers cover is part
of its API, a point outside carries ``extrapolated: true`` in its truth, and ``autolab simulate``
warns in one line on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autolab.sim import DOMAIN, Conditions, outside_domain, simulate, steady_state
from autolab.sim import render as render_state


@pytest.mark.parametrize(
    "point",
    [
        (280, 280, 14.0),  # Palencia Fig. 1
        (240, 150, 14.0),  # Fig. 1's coolest oven: 90 °C below a 240 °C chamber
        (350, 350, 7.6),  # the 350 °C / 7.6 s exciton
        (260, 260, 4.5),  # Fig. S2
        (190, 230, 1.5),  # Fig. 2: the 230 °C oven after a cooler chamber
        (350, 260, 1.5),  # corners of the box
        (190, 190, 14.0),
    ],
)
def test_points_the_papers_cover_are_not_extrapolated(point):
    truth = simulate(Conditions(*point)).truth
    assert outside_domain(Conditions(*point)) == []
    assert truth["extrapolated"] is False
    assert truth["extrapolated_because"] == []


@pytest.mark.parametrize(
    ("point", "field", "words"),
    [
        ((280, 280, 1.0), "residence_time_s", ("1", "1.5–14 s")),
        ((280, 280, 20.0), "residence_time_s", ("20", "1.5–14 s")),
        ((180, 170, 14.0), "nucleation_temperature_c", ("180", "190–350 °C")),
        ((360, 350, 14.0), "nucleation_temperature_c", ("360", "190–350 °C")),
        ((240, 140, 14.0), "growth_temperature_c", ("140", "150–350 °C")),
        ((360, 360, 14.0), "growth_temperature_c", ("360", "150–350 °C")),
    ],
)
def test_each_bound_violated_is_one_reason_naming_the_field_the_value_and_the_range(point, field, words):
    truth = simulate(Conditions(*point)).truth
    assert truth["extrapolated"] is True
    (reason,) = [r for r in truth["extrapolated_because"] if r.startswith(field)]
    value, bounds = words
    assert f"{field}={value} " in reason
    assert bounds in reason
    assert truth["extrapolated_because"] == outside_domain(Conditions(*point))


def test_growth_above_nucleation_is_flagged_beyond_fig2s_oven():
    reasons = outside_domain(Conditions(280, 290, 14.0))
    assert len(reasons) == 1
    assert "growth_temperature_c=290" in reasons[0]
    assert "nucleation_temperature_c=280" in reasons[0]
    assert simulate(Conditions(280, 290, 14.0)).truth["extrapolated"] is True
    # Palencia Fig. 2 ran a 230 °C oven after 190–220 °C chambers: those points are the papers'.
    assert outside_domain(Conditions(200, 230, 1.5)) == []
    assert outside_domain(Conditions(200, 240, 1.5)) != []


def test_another_precursor_scale_or_a_chamber_time_apart_from_the_flow_is_flagged():
    """Palencia kept the precursors constant and ran one flow through chamber and oven: the twin is
    calibrated at 10 mM each and a chamber time of a tenth of the residence time."""
    assert outside_domain(Conditions(280, 280, 14.0, nucleation_time_s=1.4, cd_precursor_mm=10.0, se_precursor_mm=10.0)) == []
    assert outside_domain(Conditions(280, 280, 14.0, se_precursor_mm=30.0)) == [
        "se_precursor_mm=30 mM is not the 10 mM the twin is calibrated at"
    ]
    assert outside_domain(Conditions(280, 280, 14.0, cd_precursor_mm=0.1, se_precursor_mm=0.1)) == [
        "cd_precursor_mm=0.1 mM is not the 10 mM the twin is calibrated at",
        "se_precursor_mm=0.1 mM is not the 10 mM the twin is calibrated at",
    ]
    assert outside_domain(Conditions(280, 280, 14.0, nucleation_time_s=100.0)) == [
        "nucleation_time_s=100 s is not the 1.4 s one flow through chamber and oven gives (0.1 × residence_time_s)"
    ]
    truth = simulate(Conditions(280, 280, 14.0, nucleation_time_s=2.8)).truth
    assert truth["extrapolated"] is True
    assert truth["extrapolated_because"][0].startswith("nucleation_time_s=2.8 s ")


def test_several_violations_give_one_reason_each():
    reasons = outside_domain(Conditions(380, 390, 30.0))
    assert [r.split("=")[0] for r in reasons] == [
        "residence_time_s", "nucleation_temperature_c", "growth_temperature_c", "growth_temperature_c"
    ]


def test_the_domain_is_data():
    assert DOMAIN.residence_time_s == (1.5, 14.0)
    assert DOMAIN.nucleation_temperature_c == (190.0, 350.0)
    assert DOMAIN.growth_temperature_c == (150.0, 350.0)
    with pytest.raises(AttributeError):
        DOMAIN.residence_time_s = (0.0, 100.0)


def test_a_state_without_conditions_is_not_extrapolated():
    """A flow-cell mixture has no conditions of its own."""
    result = render_state(steady_state(Conditions(280, 280, 30.0)))
    assert result.truth["extrapolated"] is False
    assert result.truth["extrapolated_because"] == []


def test_noise_keeps_the_flag():
    import numpy as np

    truth = simulate(Conditions(280, 280, 30.0), rng=np.random.default_rng(0)).truth
    assert truth["extrapolated"] is True


def _simulate_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autolab", "simulate", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_warns_in_one_line_on_stderr_and_json_still_parses():
    point = ["--nucleation-temperature-c", "280", "--growth-temperature-c", "300", "--residence-time-s", "20"]
    out = _simulate_cli(*point, "--json")
    assert out.returncode == 0, out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith("autolab: warning: ")
    assert "residence_time_s=20 s" in line
    assert "growth_temperature_c=300" in line
    data = json.loads(out.stdout)
    assert data["truth"]["extrapolated"] is True
    assert len(data["truth"]["extrapolated_because"]) == 2
    plain = _simulate_cli(*point)
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr.splitlines() == [line]
    assert plain.stdout.startswith("MSC families present:")


def test_cli_is_silent_inside_the_domain():
    out = _simulate_cli("--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14", "--json")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert json.loads(out.stdout)["truth"]["extrapolated"] is False
