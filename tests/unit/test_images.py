"""The compose images' pure logic: families from the specs, content-hash tags, seeding the staging cache."""

from __future__ import annotations

import json

from lakectl import artifacts
from lakectl.runtime import images
from lakectl.runtime.base import StackContext
from lakectl.runtime.service_table import all_services
from lakectl.settings import load_settings


def test_every_service_with_a_recipe_has_one_family_image(isolated):
    table = images.families(all_services().values())
    assert set(table) == {"postgres", "kafka", "schema-registry", "object-store", "flink", "trino", "prometheus",
                          "airflow", "superset"}
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
