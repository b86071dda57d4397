"""``autolab sweep``: campaigns on a real Dask LocalCluster, into one catalog read back by another process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from autolab.errors import LimitError
from autolab.sweep import SweepSpec, parse_seeds, points_to_target, setting_quartiles, sweep_table

from .conftest import run_python


def autolab(*args: str, cwd=None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autolab", *args], capture_output=True, text=True, timeout=timeout,
                          check=False, cwd=cwd)


def test_the_grid_spans_every_list_and_each_seed_runs_every_setting():
    spec = SweepSpec.from_mapping({"objective": ["msc437", "yield"], "acquisition": ["log_ei", "ucb"], "seeds": "3-5",
                                   "budget": 12, "fix": {"growth_temperature_c": 250}})
    labels = [s.label for s in spec.settings()]
    assert labels == ["objective=msc437 acquisition=log_ei", "objective=msc437 acquisition=ucb",
                      "objective=yield acquisition=log_ei", "objective=yield acquisition=ucb"]
    tasks = spec.tasks("/abs/catalog", "sweep-x")
    assert len(tasks) == 12
    assert sorted({(t["setting"], t["seed"]) for t in tasks}) == sorted((label, seed) for label in labels for seed in (3, 4, 5))
    assert {t["fixed"]["growth_temperature_c"] for t in tasks} == {250.0}
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]
    assert parse_seeds([4, 9]) == [4, 9]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"objective": "msc437", "seeds": "0-3", "budget": 12, "seed": 4}, "sweep spec: unknown key 'seed'; the keys are objective, seeds,"),
        ({"objective": "msc437", "seeds": "0-3", "budget": "twelve"}, "budget='twelve' must be a whole number in 1–1000"),
        ({"objective": "msc437", "seeds": "3-0", "budget": 12}, "seeds='3-0': the range '3-0' is empty; write the low seed first"),
        ({"objective": "msc437", "seeds": "0-x", "budget": 12}, "seeds='0-x': '0-x' is not a whole number or a range A-B"),
        ({"objective": "msc437", "seeds": "0-3"}, "sweep spec: 'budget' is missing"),
        ({"objective": "msc437", "seeds": "0-3", "budget": 12, "bounds": {"residence_time_s": [1.5, "long"]}},
         "bounds.residence_time_s=[1.5, 'long']: give [LOW, HIGH]"),
        ({"objective": "msc437", "seeds": "0-3", "budget": 12, "acquisition": "pi"}, "acquisition='pi': give \"log_ei\" or \"ucb\""),
        ({"objective": "msc437", "seeds": "0-3", "budget": 12, "acquisition": ["log_ei", "ucb"], "cost_aware": [False, True]},
         "acquisition='ucb' with cost_aware=true is in the grid, but a cost-aware choice weighs log-EI values"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_key_and_value(spec, message):
    with pytest.raises(LimitError, match="^" + message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        SweepSpec.from_mapping(spec)


def test_a_budget_within_the_design_and_an_unknown_objective_are_refused_before_anything_runs():
    from autolab.devices import make_twin_reactor

    reactor = make_twin_reactor(seed=0)
    with pytest.raises(LimitError, match=r"^budget=5 does not exceed the initial design of 5 point\(s\) \(objective=msc437\); "
                                         r"give budget ≥ 6 or a smaller initial_design \(--initial-design\)"):
        SweepSpec.from_mapping({"objective": "msc437", "seeds": "0-1", "budget": 5}).check(reactor)
    SweepSpec.from_mapping({"objective": "msc437", "seeds": "0-1", "budget": 6}).check(reactor)  # 5 design points, 1 chosen
    with pytest.raises(LimitError, match="objective='size' is not provided by any plugin"):
        SweepSpec.from_mapping({"objective": ["msc437", "size"], "seeds": "0", "budget": 12}).check(reactor)
    # A bound set of a grid that leaves a condition out is named.
    window = {"nucleation_temperature_c": [240, 350], "growth_temperature_c": [200, 350], "residence_time_s": [1.5, 20]}
    with pytest.raises(LimitError, match=r"^bounds#2: growth_temperature_c: neither in bounds nor fixed"):
        SweepSpec.from_mapping({"objective": "msc437", "seeds": "0", "budget": 12,
                                "bounds": [window, {"nucleation_temperature_c": [260, 320], "residence_time_s": [1.5, 20]}]}).check(reactor)


def test_a_budget_within_the_design_is_one_line_on_the_command_line(tmp_path):
    result = autolab("sweep", "--seeds", "0-1", "--budget", "5", "--catalog", str(tmp_path / "catalog"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "autolab: error: budget=5 does not exceed the initial design of 5 point(s) (objective=msc437); "
        "give budget ≥ 6 or a smaller initial_design (--initial-design)"
    ]


def test_points_to_target_and_the_quartiles_are_read_off_the_curves():
    rows = [
        {"setting": "a", "seed": 0, "objective": "f", "direction": "maximize", "best_value": 10.0, "best_so_far": [1.0, 9.6, 10.0]},
        {"setting": "a", "seed": 1, "objective": "f", "direction": "maximize", "best_value": 9.0, "best_so_far": [2.0, 5.0, 9.0]},
        {"setting": "b", "seed": 0, "objective": "f", "direction": "maximize", "best_value": 9.5, "best_so_far": [9.5, 9.5]},
    ]
    table = sweep_table(rows)
    assert [r["points_to_95"] for r in table] == [2, None, 1]  # the target is 95 % of the best any campaign found, 10
    assert points_to_target([5.0, 1.04, 1.0], 1.0, "minimize") == 2
    quartiles = setting_quartiles(rows)
    assert quartiles["a"]["median"] == [1.5, 7.3, 9.5]
    assert quartiles["b"]["q1"] == quartiles["b"]["q3"] == [9.5, 9.5]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_one_line(tmp_path):
    port = _free_port()
    started = time.monotonic()
    result = autolab("sweep", "--seeds", "0-1", "--budget", "12", "--scheduler", f"tcp://127.0.0.1:{port}",
                     "--catalog", str(tmp_path / "catalog"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"autolab: error: scheduler tcp://127.0.0.1:{port} does not answer within 10 s (OSError)"]
    assert time.monotonic() - started < 60


def test_bad_sweep_options_are_one_line_before_any_worker_starts(tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text('objective = "msc437"\nseeds = "0-1"\nbudget = 12\nresidence = 3\n')
    result = autolab("sweep", "--spec", str(spec), "--catalog", str(tmp_path / "catalog"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("autolab: error: sweep spec: unknown key 'residence'")
    result = autolab("sweep", "--seeds", "5-2", "--catalog", str(tmp_path / "catalog"), cwd=tmp_path)
    assert result.stderr.strip() == "autolab: error: seeds='5-2': the range '5-2' is empty; write the low seed first"
    assert not (tmp_path / "catalog").exists()  # refused before the catalog was made


@pytest.mark.slow
def test_a_sweep_runs_on_a_dask_cluster_into_one_catalog_another_process_reads(tmp_path):
    # Two workers (the default) run the four campaigns, each campaign with a session of its own on its
    # worker's in-process app (autolab.catalog.in_process), both writing into one catalog folder.
    spec = tmp_path / "sweep.toml"
    spec.write_text(
        'objective = "msc437"\nseeds = "0-1"\nbudget = 5\ninitial_design = 4\nacquisition = ["log_ei", "ucb"]\n'
        "[fix]\ngrowth_temperature_c = 250\nnucleation_temperature_c = 290\n"
    )
    result = autolab("sweep", "--spec", str(spec), "--catalog", "sweep-catalog", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    campaigns = out["campaigns"]
    assert out["workers"] == 2
    assert sorted((c["setting"], c["seed"]) for c in campaigns) == [
        ("acquisition=log_ei", 0), ("acquisition=log_ei", 1), ("acquisition=ucb", 0), ("acquisition=ucb", 1)]
    assert all(c["n_runs"] == 5 and c["best_value"] > 0 and "error" not in c for c in campaigns)
    assert len({c["campaign_id"] for c in campaigns}) == 4
    best = max(c["best_value"] for c in campaigns)
    assert any(c["points_to_95"] is not None for c in campaigns if c["best_value"] == best)
    report = tmp_path / "autolab-reports" / f"sweep-{out['sweep_id']}"
    assert (report / "best_so_far.png").stat().st_size > 10_000
    stored = json.loads((report / "sweep.json").read_text())
    assert all(len(c["best_so_far"]) == 5 for c in stored["campaigns"])
    # Another process counts the sweep's measurements in the catalog, by campaign.
    counted = run_python(
        "import json, collections\n"
        "from tiled.queries import Key\n"
        "from autolab.catalog import open_catalog\n"
        f"client = open_catalog({str(tmp_path / 'sweep-catalog')!r}, create=False)\n"
        f"runs = client.search(Key('start.sweep_id') == {out['sweep_id']!r})\n"
        "points = runs.search(Key('start.plan_name') == 'measure_point')\n"
        "print(json.dumps([collections.Counter(run.metadata['start']['campaign_id'] for run in points.values()),\n"
        "                  sum(not run.metadata.get('stop') for run in runs.values())]))\n"
    )
    assert counted.returncode == 0, counted.stderr
    per_campaign, incomplete = json.loads(counted.stdout)
    assert per_campaign == {c["campaign_id"]: 5 for c in campaigns}
    # Every run is complete and no journal waits for a replay.
    assert incomplete == 0
    assert list((tmp_path / "sweep-catalog" / "journal").glob("*.jsonl")) == []



@pytest.mark.slow
def test_the_local_clusters_workers_do_not_call_sys_current_frames():
    # Dask's worker profiler calls sys._current_frames() every 10 ms, which can deadlock a
    # CPython 3.11 worker (gh-106883); the sweep's own cluster turns it off in every worker
    # process, a restarted one too. Run apart, as `autolab sweep` runs, from pytest's warning filters.
    done = run_python(
        "import json\n"
        "from autolab.sweep import close_cluster, start_cluster\n"
        "def profiling(dask_worker):\n"
        "    import dask\n"
        "    return [dask.config.get('distributed.worker.profile.enabled'), 'profile' in dask_worker.periodic_callbacks]\n"
        "client = start_cluster(2)\n"
        "try:\n"
        "    first = client.run(profiling)\n"
        "    client.restart()  # what a nanny does after its worker dies, too\n"
        "    restarted = client.run(profiling)\n"
        "finally:\n"
        "    close_cluster(client)\n"
        "print(json.dumps([list(first.values()), list(restarted.values())]))\n"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first, restarted = json.loads(done.stdout.strip().splitlines()[-1])
    assert first == [[False, False], [False, False]]
    assert restarted == [[False, False], [False, False]]
