"""The compose images' pure logic: families from the specs, content-hash tags, seeding the staging cache."""

from __future__ import annotations

import json

import pytest

from lakectl import artifacts
from lakectl.runtime import images
from lakectl.runtime.base import StackContext
from lakectl.runtime.service_table import all_services
from lakectl.settings import load_settings


def test_every_service_with_a_recipe_has_one_family_image(isolated):
    table = images.families(all_services().values())
    assert set(table) == {"postgres", "kafka", "schema-registry", "connect", "object-store", "flink", "trino",
                          "prometheus", "airflow", "superset"}
    assert {s.name for s in table["flink"]} == {"flink-jobmanager", "flink-taskmanager", "flink-sql-gateway"}
    assert "grafana" not in {s.name for members in table.values() for s in members}  # the official image


def test_tags_are_content_hashes_of_what_an_image_is_made_from(isolated, monkeypatch, tmp_path):
    stack = StackContext(load_settings(), "compose")
    table = images.families(all_services().values())
    first = images.family_tag(stack, "kafka", table["kafka"])
    assert first == images.family_tag(stack, "kafka", table["kafka"])  # deterministic
    assert first.startswith("lakectl/kafka:") and first != images.family_tag(stack, "trino", table["trino"])
    # another base image setting gives another base, hence other family tags
    monkeypatch.setenv("LAKECTL_IMAGE_BASE", "lakectl/debian:other")
    other = StackContext(load_settings(), "compose")
    assert images.base_tag(other) != images.base_tag(stack)
    assert images.family_tag(other, "kafka", table["kafka"]) != first
    # a changed Dockerfile changes every tag
    copy = tmp_path / "deploy-images"
    copy.mkdir()
    for name in ("base.Dockerfile", "family.Dockerfile"):
        (copy / name).write_text((images.images_dir() / name).read_text())
    (copy / "family.Dockerfile").write_text((copy / "family.Dockerfile").read_text() + "# changed\n")
    monkeypatch.setattr(images, "images_dir", lambda: copy)
    monkeypatch.setattr(images, "_files", lambda *roots: [p for p in [copy / "family.Dockerfile"]])
    monkeypatch.setattr(images, "_content", lambda paths: [p.read_bytes() for p in paths])
    changed = images.family_tag(stack, "kafka", table["kafka"])
    (copy / "family.Dockerfile").write_text((copy / "family.Dockerfile").read_text() + "# again\n")
    assert images.family_tag(stack, "kafka", table["kafka"]) != changed


def _entry(root, relative: str) -> None:
    entry = root / relative
    entry.mkdir(parents=True)
    (entry / "a.jar").write_text("jar")
    (entry / artifacts.MANIFEST).write_text(json.dumps({"source": {}, "files": {}}))


def test_a_finished_download_is_copied_from_the_seed_cache_never_a_venv(tmp_path, monkeypatch):
    cache, seed = tmp_path / "cache", tmp_path / "seed"
    _entry(seed, "maven/kafka-4.1.2")
    _entry(seed, "venvs/airflow-3")
    monkeypatch.setenv("LAKECTL_CACHE_SEED", str(seed))
    built = []
    target = artifacts.cached_build(cache, cache / "maven" / "kafka-4.1.2", lambda work: built.append(1),
                                    {"maven": []})
    assert built == [] and (target / "a.jar").read_text() == "jar" and artifacts.is_complete(target)
    assert artifacts._seed_of(cache, cache / "venvs" / "airflow-3") is None  # not relocatable
    assert artifacts._seed_of(cache, cache / "maven" / "absent") is None
    monkeypatch.delenv("LAKECTL_CACHE_SEED")
    assert artifacts._seed_of(cache, cache / "maven" / "kafka-4.1.2") is None


def test_a_familys_tag_does_not_depend_on_which_of_its_services_start(isolated, monkeypatch):
    # `up flink-taskmanager` after a TaskManager died must find the image the whole stack runs: a tag of
    # the services started would name another image, and compose would recreate the JobManager (its jobs lost)
    monkeypatch.setattr(images, "engine_version", lambda: "test")
    monkeypatch.setattr(images, "image_exists", lambda tag: True)
    monkeypatch.setattr(images, "image_size_mb", lambda tag: None)
    stack = StackContext(load_settings(), "compose")
    services = all_services()
    some = images.ensure_images(stack, [services["flink-taskmanager"]], lambda message: None)
    every = images.ensure_images(stack, list(services.values()), lambda message: None)
    assert [image.built for image in some + every] == [False] * (len(some) + len(every))
    assert some[0].tag == next(image.tag for image in every if image.family == "flink")
    assert set(some[0].services) == {"flink-jobmanager", "flink-taskmanager", "flink-sql-gateway"}


# ---- derived images (Kubernetes) ----------------------------------------------------------------------------

def test_pinned_venv_is_named_by_pinned_venv_name(tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(artifacts, "python_venv", lambda cache, name, reqs: made.append(name) or cache / "venvs" / name)
    path = artifacts.pinned_venv(tmp_path, "airflow-3.1", ("a==1", "b==2"))
    assert made == [artifacts.pinned_venv_name("airflow-3.1", ["a==1", "b==2"])] and path.name == made[0]
    assert made[0].startswith("airflow-3.1-") and made[0] != artifacts.pinned_venv_name("airflow-3.1", ["a==1"])


def test_derived_images_start_from_their_family_and_the_job_image_keeps_its_tag(isolated):
    stack = StackContext(load_settings(), "compose")
    bases = {name: derived.family for name, derived in images.DERIVED.items()}
    assert bases == {"flink-job": "flink", "airflow-project": "airflow"}
    assert images.job_image_tag(stack) == images.derived_tag(stack, "flink-job")
    assert images.image_tag(stack, "flink-job") == images.derived_tag(stack, "flink-job")
    table = images.families(all_services().values())
    assert images.image_tag(stack, "superset") == images.family_tag(stack, "superset", table["superset"])
    flink_args = images.derived_build_args(stack, "flink-job")
    assert flink_args == ["--build-arg", f"FLINK_IMAGE={images.family_tag(stack, 'flink', table['flink'])}"]
    airflow_args = images.derived_build_args(stack, "airflow-project")
    assert f"AIRFLOW_IMAGE={images.family_tag(stack, 'airflow', table['airflow'])}" in airflow_args
    assert f"PROJECT_DIR={images.PROJECT_DIR}" in airflow_args


def test_the_airflow_project_image_holds_lakectl_and_the_project(isolated, tmp_path):
    inputs = images.DERIVED["airflow-project"].inputs()
    assert {"Dockerfile", "project/lakectl/__init__.py", "project/lakectl/cli/main.py", "project/dags/pipelines.py",
            "project/schemas/trades.pipeline.toml", "project/schemas/trade.avsc",
            "project/dbt_project/dbt_project.yml", "project/flink_jobs/bronze/job.py", "project/lakectl.toml"
            } <= set(inputs)
    assert not [n for n in inputs if "__pycache__" in n or n.endswith(".pyc") or "/target/" in n]
    dockerfile = inputs["Dockerfile"].read_text()
    assert "ARG AIRFLOW_IMAGE" in dockerfile and "FROM ${AIRFLOW_IMAGE}" in dockerfile
    assert "COPY project/ ${PROJECT_DIR}/" in dockerfile and images.LAKECTL_BIN in dockerfile
    # the entry point the renderer names as LAKECTL_BIN is the base image's
    assert f"> {images.LAKECTL_BIN}" in (images.images_dir() / "base.Dockerfile").read_text()
    context = images.stage_derived("airflow-project", tmp_path / "context")
    staged = context / "project" / "dags" / "pipelines.py"
    assert staged.read_bytes() == inputs["project/dags/pipelines.py"].read_bytes()
    assert (context / "Dockerfile").is_file()


def test_image_build_names_a_derived_image_and_refuses_unknown_ones(isolated, monkeypatch):
    from lakectl.errors import UsageError
    from lakectl.ops import images as ops_images

    calls = []
    monkeypatch.setattr(ops_images, "ensure_images", lambda stack, specs, progress, rebuild: calls.append(
        ("families", sorted({s.image_family for s in specs}))) or [])
    monkeypatch.setattr(ops_images, "ensure_derived_image", lambda stack, name, progress, rebuild: calls.append(
        ("derived", name)) or name)
    loaded = load_settings()
    assert ops_images.build(loaded, ["flink-job", "airflow-project"], False, print) == ["flink-job", "airflow-project"]
    assert calls == [("derived", "flink-job"), ("derived", "airflow-project")]
    calls.clear()
    ops_images.build(loaded, ["superset", "airflow-project"], False, print)
    assert calls == [("families", ["superset"]), ("derived", "airflow-project")]
    with pytest.raises(UsageError, match="airflow-project"):
        ops_images.build(loaded, ["nope"], False, print)


def test_image_list_shows_a_derived_image_once_built(isolated, monkeypatch):
    from lakectl.ops import images as ops_images

    stack = StackContext(load_settings(), "compose")
    built = {images.derived_tag(stack, "airflow-project")}
    monkeypatch.setattr(ops_images, "image_exists", lambda tag: tag in built)
    monkeypatch.setattr(ops_images, "listed", lambda stack, specs: [])
    monkeypatch.setattr(ops_images, "image_size_mb", lambda tag: 1.0)
    rows = ops_images.list_images(load_settings())
    assert [row["family"] for row in rows] == ["airflow-project"] and rows[0]["image"] in built
