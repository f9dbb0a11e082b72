"""The registry client against recorded Apicurio payloads (httpx.MockTransport)."""

import json
from pathlib import Path

import httpx
import pytest

from lakectl.components.registry import RegistryError, SchemaRegistry
from lakectl.errors import CheckFailed, ServiceUnavailable, UsageError
from tests.unit.routed import routed_transport

PAYLOADS = Path(__file__).parent / "payloads" / "apicurio"
BASE = "http://registry.test/apis/ccompat/v7"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def registry(routes: dict) -> tuple[SchemaRegistry, list[httpx.Request]]:
    transport, seen = routed_transport(routes, payload("subject_404.json"))
    return SchemaRegistry(httpx.Client(base_url=BASE, transport=transport)), seen


def test_latest_version():
    reg, _ = registry({("GET", "/apis/ccompat/v7/subjects/rec-value/versions/latest"):
                       (200, payload("version_latest.json"))})
    latest = reg.get("rec-value")
    assert (latest.subject, latest.version, latest.id) == ("rec-value", 1, 5)
    assert json.loads(latest.schema_)["name"] == "Trade"


def test_unknown_subject_is_a_registry_error_with_status():
    reg, _ = registry({})
    with pytest.raises(RegistryError) as info:
        reg.get("nope")
    assert info.value.status == 404 and info.value.error_code == 40401
    assert "Subject 'nope' not found" in info.value.message


def test_incompatible_check_gets_reasons_from_apicurio_dry_run():
    reg, seen = registry({
        ("POST", "/apis/ccompat/v7/compatibility/subjects/trades-value/versions/latest"):
            (200, payload("compatibility_false.json")),
        ("POST", "/apis/registry/v3/groups/default/artifacts/trades-value/versions"): (400, payload("dryrun_400.json")),
    })
    result = reg.check("trades-value", '{"type": "string"}')
    assert not result.is_compatible
    assert result.messages == ["/fields/7: currency",
                               "/fields/3/type: reader type: STRING not compatible with writer type: LONG"]
    assert seen[0].url.params["verbose"] == "true"
    assert seen[1].url.params["dryRun"] == "true"


def test_refused_registration_says_why():
    reg, _ = registry({
        ("POST", "/apis/ccompat/v7/subjects/trades-value/versions"): (409, payload("register_409.json")),
        ("POST", "/apis/ccompat/v7/compatibility/subjects/trades-value/versions/latest"):
            (200, payload("compatibility_false.json")),
        ("POST", "/apis/registry/v3/groups/default/artifacts/trades-value/versions"): (400, payload("dryrun_400.json")),
    })
    with pytest.raises(CheckFailed, match="refused as incompatible: /fields/7: currency"):
        reg.register("trades-value", '{"type": "string"}')


def test_check_against_a_new_subject_is_compatible():
    reg, _ = registry({})
    assert reg.check("fresh-value", '{"type": "string"}').is_compatible


def test_global_compatibility_and_bad_level():
    reg, _ = registry({("GET", "/apis/ccompat/v7/config"): (200, payload("config_global.json"))})
    assert reg.get_compatibility() == "BACKWARD"
    with pytest.raises(UsageError, match="unknown compatibility level"):
        reg.set_compatibility("SIDEWAYS")


def test_transient_errors_are_retried_for_reads_only():
    calls = {"n": 0}

    def handler(request):
        calls["n"] += 1
        return httpx.Response(503) if calls["n"] < 3 else httpx.Response(200, json=["a-value"])

    reg = SchemaRegistry(httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler)))
    assert reg.subjects() == ["a-value"] and calls["n"] == 3


def test_unreachable_registry():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    reg = SchemaRegistry(httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler)))
    with pytest.raises(ServiceUnavailable, match="unreachable"):
        reg.subjects()


def test_credentials_refused_is_usage_error():
    reg, _ = registry({("GET", "/apis/ccompat/v7/subjects"): (401, b'{"message": "Unauthorized", "error_code": 401}')})
    with pytest.raises(UsageError, match="refused the credentials"):
        reg.subjects()
