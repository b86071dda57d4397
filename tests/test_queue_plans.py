"""The queue's plan descriptions: the worker reactor's ranges as queueserver min/max, with the docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest
from bluesky_queueserver.manager.profile_ops import existing_plans_and_devices_from_nspace

import autolab.plans as plans
from autolab.queue_plans import limited_plans, parameter_descriptions


def test_allowed_plan_descriptions_keep_the_docstring_and_add_this_reactors_range(reactor):
    reactor.growth_oven.safety_limit_c.put(280.0)  # a smaller oven than the twin's default
    names = ("measure_point", "phase_map", "set_conditions", "safe_state")
    namespace = {"reactor": reactor, **limited_plans({n: getattr(plans, n) for n in names}, reactor.limits())}
    described, _, _, _ = existing_plans_and_devices_from_nspace(nspace=namespace)
    parameters = {plan: {p["name"]: p for p in described[plan]["parameters"]} for plan in names}

    growth = parameters["set_conditions"]["growth_temperature_c"]
    assert (growth["min"], growth["max"]) == ("20", "280")
    assert growth["description"] == "Growth oven setpoint, °C; this reactor allows 20–280 °C"
    residence = parameters["measure_point"]["residence_time_s"]
    assert (residence["min"], residence["max"]) == ("0.625", "600")
    assert residence["description"].endswith("; this reactor allows 0.625–600 s")
    # "a, b : float" in a docstring describes both parameters.
    assert parameters["measure_point"]["nucleation_temperature_c"]["description"].endswith("this reactor allows 20–350 °C")
    assert parameters["measure_point"]["growth_temperature_c"]["description"].endswith("this reactor allows 20–280 °C")
    assert (parameters["phase_map"]["growth_temperatures_c"]["min"], parameters["phase_map"]["growth_temperatures_c"]["max"]) == ("20", "280")
    safe = parameters["safe_state"]["safe_temperature_c"]
    assert (safe["min"], safe["max"]) == ("20", "280")  # both heaters must reach it
    # Parameters without a range keep their docstring description as queueserver reads it.
    assert parameters["measure_point"]["md"]["description"] == parameter_descriptions(plans.measure_point)["md"]


def test_parameter_descriptions_split_a_line_naming_several_parameters():
    described = parameter_descriptions(plans.measure_point)
    assert described["nucleation_temperature_c"] == described["growth_temperature_c"]
    assert described["nucleation_temperature_c"].endswith("°C.")
    assert parameter_descriptions(lambda: None) == {}


@pytest.mark.parametrize("name", ["autolab.queue_plans", "autolab.agent"])
def test_docstring_examples_of_the_queue_modules(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_the_agent_keeps_a_point_the_reactor_cannot_run_as_a_failed_trial_and_queues_nothing(reactor):
    """As in run_campaign: a suggestion the reactor can never run is on record with its reason."""
    from autolab.agent import run_agent
    from autolab.campaign import Campaign, feasible_point
    from autolab.errors import LimitError

    reactor.cd_pump.syringe_volume_ul.put(100.0)  # no point's flush fits a 100 µL syringe
    with pytest.raises(LimitError, match="full syringe"):
        feasible_point(reactor, {"nucleation_temperature_c": 280, "growth_temperature_c": 280, "residence_time_s": 14.0})
    campaign = Campaign(reactor.limits(), "msc437", budget=2, initial_design=2, seed=0)
    documents = []
    summary = run_agent(None, lambda: None, campaign, lambda name, doc: documents.append((name, doc)),  # api: never called
                        check=lambda conditions: feasible_point(reactor, conditions))
    assert (summary["n_runs"], summary["n_failed"], summary["stop_reason"]) == (0, 2, "budget spent")
    failed = [doc["failed_point"] for name, doc in documents if name == "start" and doc.get("campaign_role") == "failed_point"]
    assert [f["number"] for f in failed] == [1, 2]
    assert all("full syringe" in f["reason"] for f in failed)
