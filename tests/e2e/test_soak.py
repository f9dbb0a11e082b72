"""The seeded fault soak (bench/soak.py), one round: every fault kind once while trades flow, then Kafka,
Iceberg and Delta must hold the same records, each exactly once. The round takes what recovery takes (about
five minutes here); 4 "minutes" is only the floor, and the pauses between faults are short (1-3 s, instead
of the bench's 3-10 s), since the recoveries between them already give the stream minutes undisturbed.

The seed comes from LAKECTL_SOAK_SEED (default 15) so that a failure can be replayed; the schedule it
drew is printed with the result."""

from __future__ import annotations

import importlib.util
import json
import os
import sys

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import cancel_active_jobs, report_artifact

pytestmark = pytest.mark.e2e


def _soak_module():
    spec = importlib.util.spec_from_file_location("lakectl_bench_soak", REPO / "bench" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module's string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_a_seeded_fault_soak_loses_and_duplicates_nothing(stack, request, tmp_path):
    soak = _soak_module()
    cancel_active_jobs(stack)  # alone on the cluster: a JobManager kill takes every job with it
    seed = int(os.environ.get("LAKECTL_SOAK_SEED") or 15)
    lines: list[str] = []
    run = soak.Soak(soak.Lakectl(stack.project, stack.env), minutes=4, rate=2000, seed=seed,
                    pause_s=(1, 3), log=lines.append)
    try:
        result = run.run()
    except soak.SoakFailed as exc:
        pytest.fail(f"soak seed {seed}: {exc}\n" + "\n".join(lines))
    (tmp_path / "soak.json").write_text(json.dumps(result, indent=2))
    by_kind = ", ".join(f"{kind} x{v['count']} (max {max(v['recovery_s'])} s)"
                        for kind, v in sorted(result["faults_by_kind"].items()))
    report_artifact(request.config, f"soak seed {seed}: {result['events_sent']} trades, {len(result['faults'])} "
                                    f"faults: {by_kind}; recovery p50 {result['recovery_p50_s']} s, max "
                                    f"{result['recovery_max_s']} s; rows {result['final_rows']}")
    assert not result["problems"], "\n".join([*result["problems"], *lines])
    assert set(result["faults_by_kind"]) == set(soak.KINDS)
    assert result["events_sent"] > 2000 * 60  # trades flowed throughout
