"""What a user hands the REST clients is checked before a request is built from it (issue 15: no input breaks
the CLI): names in paths stay one segment, a base URL must be http(s), a token must fit a header, and a
password in a URL is never shown."""

import httpx
import pytest

from lakectl.components.airflow import AirflowClient
from lakectl.components.dbt import TrinoEndpoint
from lakectl.components.flink import FlinkClient
from lakectl.components.http import base_url, bearer, segment, shown
from lakectl.components.prometheus import Prometheus
from lakectl.components.registry import SchemaRegistry
from lakectl.components.trino import TrinoClient
from lakectl.errors import ConfigError, ServiceUnavailable
from lakectl.settings import TrinoSettings


@pytest.mark.parametrize(("name", "encoded"), [
    ("trades-value", "trades-value"), ("a/b", "a%2Fb"), ("a b?c#d", "a%20b%3Fc%23d"), ("\x1b[2J", "%1B%5B2J"),
    ("é", "%C3%A9"), ("\udcff", "%FF"), ("..", ".."), (7, "7"),
])
def test_segment_keeps_a_name_in_one_path_segment(name, encoded):
    assert segment(name) == encoded


def test_a_subject_with_a_slash_or_a_control_character_reaches_its_own_endpoint():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"compatibilityLevel": "BACKWARD"})

    reg = SchemaRegistry(httpx.Client(base_url="http://registry.test", transport=httpx.MockTransport(handler)))
    assert reg.get_compatibility("a/b\x1b") == "BACKWARD"
    assert seen == ["/config/a%2Fb%1B?defaultToGlobal=true"]


@pytest.mark.parametrize("url", ["zz", "ftp://127.0.0.1/", "http://", "http://[::1", "http://127.0.0.1:99999999",
                                 "127.0.0.1:8081", ""])
@pytest.mark.parametrize("connect", [
    lambda url: SchemaRegistry.connect(url), lambda url: FlinkClient.connect(url),
    lambda url: AirflowClient.connect(url, username="u", password="p"), lambda url: Prometheus.connect(url),
    lambda url: TrinoClient.connect(url), lambda url: TrinoEndpoint.from_settings(TrinoSettings(), url),
])
def test_a_url_that_is_not_http_is_a_config_error(connect, url):
    with pytest.raises(ConfigError, match="not") as info:
        connect(url)
    assert info.value.exit_code == 2


def test_base_url_keeps_a_good_one():
    assert base_url("https://flink.example.internal:8443/", "flink") == "https://flink.example.internal:8443"


@pytest.mark.parametrize("token", ["t\u00f6ken", "a b", "line\nbreak", "smile🙂"])
def test_a_token_a_header_cannot_carry_is_a_config_error_without_the_token(token):
    with pytest.raises(ConfigError, match="the flink token holds characters") as info:
        FlinkClient.connect("http://127.0.0.1:1", token=token)
    assert token not in info.value.one_line()


def test_a_good_token_is_a_bearer_header():
    assert bearer("eyJ.abc-_~+/=", "t") == {"Authorization": "Bearer eyJ.abc-_~+/="}


def test_a_password_in_a_url_is_masked_in_messages():
    assert shown("https://user:hunter2@registry:8443/x") == "https://user:***@registry:8443/x"
    assert shown("https://user@registry/x@y") == "https://user@registry/x@y"
    reg = SchemaRegistry.connect("http://user:hunter2@127.0.0.1:1", timeout=0.5)
    with pytest.raises(ServiceUnavailable) as info:
        reg.subjects()
    assert "hunter2" not in info.value.one_line() and "user:***@" in info.value.one_line()
    with pytest.raises(ConfigError) as info:
        base_url("ftp://user:hunter2@host", "registry")
    assert "hunter2" not in info.value.one_line()
