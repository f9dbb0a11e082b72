import os
from pathlib import Path

import pytest

from lakectl.errors import ConfigError
from lakectl.settings import load_settings

TOML = """
default_profile = "local"
[profiles.local]
timeout = 111
request_timeout = 7
[profiles.local.kafka]
bootstrap_servers = "from-toml:9092"
[profiles.prod.kafka]
bootstrap_servers = "prod:9093"
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-512"
sasl_username = "svc"
[profiles.prod.registry]
url = "https://registry.prod"
username = "svc"
"""


@pytest.fixture
def project(isolated: Path) -> Path:
    (isolated / "lakectl.toml").write_text(TOML)
    return isolated


def test_defaults_without_any_file(isolated):
    loaded = load_settings()
    assert loaded.settings.timeout == 300
    assert loaded.config_file is None
    assert loaded.state_dir == isolated / ".lakectl"
    assert loaded.sources == {}


def test_precedence_defaults_toml_env_flags(project, monkeypatch):
    loaded = load_settings()
    assert loaded.settings.timeout == 111
    assert loaded.sources["timeout"].endswith("[profiles.local]")
    assert loaded.settings.runtime == "auto"  # default stays

    monkeypatch.setenv("LAKECTL_TIMEOUT", "222")
    monkeypatch.setenv("LAKECTL_KAFKA__BOOTSTRAP_SERVERS", "from-env:9092")
    loaded = load_settings()
    assert loaded.settings.timeout == 222
    assert loaded.settings.kafka.bootstrap_servers == "from-env:9092"
    assert loaded.sources["kafka.bootstrap_servers"] == "env"
    assert loaded.settings.request_timeout == 7  # toml still wins over default

    loaded = load_settings(flags={"timeout": 333, "runtime": None})
    assert loaded.settings.timeout == 333
    assert loaded.sources["timeout"] == "flag"


def test_found_from_a_subdirectory(project):
    sub = project / "a" / "b"
    sub.mkdir(parents=True)
    loaded = load_settings(cwd=sub)
    assert loaded.config_file == project / "lakectl.toml"
    assert loaded.state_dir == project / ".lakectl"


def test_what_a_compose_container_passes_means_unset(project, monkeypatch):
    # the compose file passes LAKECTL_CONFIG="" (no lakectl.toml on the host) and LAKECTL_PORTS="{}"
    monkeypatch.setenv("LAKECTL_CONFIG", "")
    monkeypatch.setenv("LAKECTL_PORTS", "{}")
    monkeypatch.setenv("LAKECTL_CLASS_DATA_SHARING", "false")
    loaded = load_settings()
    assert loaded.config_file == project / "lakectl.toml"  # searched for, as when unset
    assert loaded.settings.ports == {} and loaded.settings.class_data_sharing is False


def test_named_profile_with_remote_endpoints(project, monkeypatch):
    monkeypatch.setenv("LAKECTL_KAFKA__SASL_PASSWORD", "s3cret")
    loaded = load_settings("prod")
    kafka = loaded.settings.kafka.client_config(loaded.settings.kafka.bootstrap_servers)
    assert kafka == {"bootstrap.servers": "prod:9093", "security.protocol": "SASL_SSL",
                     "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "svc", "sasl.password": "s3cret"}
    assert loaded.settings.registry.url == "https://registry.prod"


def test_profile_from_env(project, monkeypatch):
    monkeypatch.setenv("LAKECTL_PROFILE", "prod")
    assert load_settings().profile == "prod"


def test_unknown_profile(project):
    with pytest.raises(ConfigError, match="profile 'nope' is not in"):
        load_settings("nope")


def test_malformed_toml(isolated):
    (isolated / "lakectl.toml").write_text("[profiles.local\ntimeout = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_wrong_type_names_key_and_source(project):
    (project / "lakectl.toml").write_text('[profiles.local]\ntimeout = "soon"\n')
    with pytest.raises(ConfigError, match=r"'timeout' from .*lakectl.toml"):
        load_settings()


def test_unknown_key_is_refused(project):
    (project / "lakectl.toml").write_text("[profiles.local]\ntimout = 3\n")
    with pytest.raises(ConfigError, match="timout"):
        load_settings()


def test_secret_in_toml_is_refused(project):
    (project / "lakectl.toml").write_text('[profiles.local.kafka]\nsasl_password = "oops"\n')
    with pytest.raises(ConfigError, match="is a secret") as info:
        load_settings()
    assert "LAKECTL_KAFKA__SASL_PASSWORD" in info.value.one_line()


def test_secrets_file_must_be_private(project, monkeypatch, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[profiles.prod.registry]\npassword = "pw"\n')
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(secrets))
    os.chmod(secrets, 0o644)
    with pytest.raises(ConfigError, match="readable by others") as info:
        load_settings("prod")
    assert "chmod 600" in info.value.one_line()
    os.chmod(secrets, 0o600)
    loaded = load_settings("prod")
    assert loaded.settings.registry.password.get_secret_value() == "pw"
    assert loaded.sources["registry.password"].startswith("secrets file")


def test_env_beats_secrets_file(project, monkeypatch, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[profiles.prod.registry]\npassword = "file"\n')
    secrets.chmod(0o600)
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("LAKECTL_REGISTRY__PASSWORD", "env")
    assert load_settings("prod").settings.registry.password.get_secret_value() == "env"


REMOTE_LAKEHOUSE = """
[profiles.prod.flink]
url = "https://flink.prod"
verify_tls = false
[profiles.prod.object_store]
endpoint = "https://s3.prod"
bucket = "lake"
access_key = "AK"
[profiles.prod.catalog]
jdbc_url = "jdbc:postgresql://db.prod:5432/iceberg"
user = "svc"
"""


def test_remote_flink_object_store_and_catalog(project, monkeypatch):
    (project / "lakectl.toml").write_text(TOML + REMOTE_LAKEHOUSE)
    monkeypatch.setenv("LAKECTL_FLINK__TOKEN", "tok")
    monkeypatch.setenv("LAKECTL_OBJECT_STORE__SECRET_KEY", "sk")
    monkeypatch.setenv("LAKECTL_CATALOG__PASSWORD", "pw")
    from lakectl.context import LakeContext

    app = LakeContext(profile="prod")
    assert app.flink_url() == "https://flink.prod"
    flink = app.flink()
    assert flink.client.headers["Authorization"] == "Bearer tok"
    s3 = app.s3()
    assert (s3.endpoint, s3.bucket, s3.access_key, s3.secret_key) == ("https://s3.prod", "lake", "AK", "sk")
    assert s3.hadoop_s3a_options()["fs.s3a.connection.ssl.enabled"] == "true"
    assert app.catalog() == {"jdbc_url": "jdbc:postgresql://db.prod:5432/iceberg", "user": "svc", "password": "pw",
                             "warehouse": "s3://lake/iceberg", "name": "lakehouse"}


@pytest.mark.parametrize("key", ["[profiles.local.flink]\ntoken", "[profiles.local.object_store]\nsecret_key",
                                 "[profiles.local.catalog]\npassword"])
def test_lakehouse_secrets_are_refused_in_toml(project, key):
    (project / "lakectl.toml").write_text(f'{key} = "oops"\n')
    with pytest.raises(ConfigError, match="is a secret"):
        load_settings()


@pytest.mark.parametrize(("mode", "word"), [(0o640, "readable"), (0o604, "readable"), (0o660, "readable"),
                                            (0o620, "writable"), (0o602, "writable")])
def test_secrets_file_open_to_group_or_others_is_refused(project, monkeypatch, tmp_path, mode, word):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[profiles.prod.registry]\npassword = "pw"\n')
    secrets.chmod(mode)
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(secrets))
    with pytest.raises(ConfigError, match=f"{word} by others") as info:
        load_settings("prod")
    assert info.value.exit_code == 2
    assert "pw" not in info.value.one_line()


@pytest.mark.parametrize(("content", "fragment"), [
    (bytes(range(256)), "not UTF-8 text"),
    (b'[profiles.local.registry]\npassword = "\xff\xfe"\n', "not UTF-8 text"),
    (b"[profiles.local\n", "not valid TOML"),
])
def test_unreadable_secrets_file_is_a_config_error(isolated, monkeypatch, content, fragment):
    secrets = isolated / "secrets.toml"
    secrets.write_bytes(content)
    secrets.chmod(0o600)
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(secrets))
    with pytest.raises(ConfigError, match=fragment):
        load_settings()


def test_secrets_file_that_is_a_directory_is_refused(isolated, monkeypatch):
    (isolated / "secrets.toml").mkdir(mode=0o700)
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(isolated / "secrets.toml"))
    with pytest.raises(ConfigError, match="is not a file"):
        load_settings()


def test_empty_or_missing_secrets_file_holds_no_secrets(isolated, monkeypatch):
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(isolated / "none" / "secrets.toml"))
    assert load_settings().settings.registry.password is None
    empty = isolated / "secrets.toml"
    empty.write_bytes(b"")
    empty.chmod(0o600)
    monkeypatch.setenv("LAKECTL_SECRETS_FILE", str(empty))
    assert load_settings().settings.registry.password is None


def test_lakectl_toml_that_is_not_utf8_is_a_config_error(isolated):
    (isolated / "lakectl.toml").write_bytes(b"timeout = 1\n# \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_settings()


@pytest.mark.parametrize(("env", "value", "key", "fragment"), [
    ("LAKECTL_REQUEST_TIMEOUT", "nan", "request_timeout", "finite"),  # httpx: 'Invalid value NaN' (CLI fuzz test)
    ("LAKECTL_TIMEOUT", "inf", "timeout", "finite"),
    ("LAKECTL_TIMEOUT", "-1", "timeout", "greater than 0"),
    ("LAKECTL_FLINK__CHECKPOINT_INTERVAL_S", "0", "flink.checkpoint_interval_s", "greater than 0"),
    ("LAKECTL_FLINK__PARALLELISM", "0", "flink.parallelism", "greater than or equal to 1"),
    ("LAKECTL_PORTS", '{"kafka": 70000}', "ports.kafka", "less than or equal to 65535"),
])
def test_waits_parallelism_and_ports_must_make_sense(isolated, monkeypatch, env, value, key, fragment):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=fragment) as info:
        load_settings()
    assert f"setting '{key}' from env" in info.value.one_line()


@pytest.mark.parametrize(("env", "relative"), [("LAKECTL_STATE_DIR", "a-file"), ("LAKECTL_STATE_DIR", "a-file/state"),
                                               ("LAKECTL_CACHE_DIR", "a-file")])
def test_a_state_or_cache_dir_that_is_a_file_is_a_config_error(isolated, monkeypatch, env, relative):
    (isolated / "a-file").write_text("")  # the CLI fuzz test: 'unexpected NotADirectoryError' in `open`
    monkeypatch.setenv(env, str(isolated / relative))
    with pytest.raises(ConfigError, match=r"cannot be a directory \(.*a-file is a file\)") as info:
        load_settings()
    assert "from env" in info.value.one_line()


@pytest.mark.parametrize(("env", "key"), [("LAKECTL_REGISTRY__USERNAME", "registry.username"),
                                          ("LAKECTL_KAFKA__BOOTSTRAP_SERVERS", "kafka.bootstrap_servers"),
                                          ("LAKECTL_REGISTRY__PASSWORD", "registry.password")])
def test_a_setting_whose_bytes_are_not_utf8_is_a_config_error(isolated, monkeypatch, env, key):
    # os.environ keeps bytes that are not UTF-8 as surrogate escapes: httpx's basic auth raised UnicodeEncodeError
    # and confluent-kafka a SystemError ('unexpected' in both)
    monkeypatch.setenv(env, "abc\udcff")
    with pytest.raises(ConfigError, match=f"setting '{key}' from env: not valid UTF-8 text") as info:
        load_settings()
    assert "abc" not in info.value.one_line()


def test_a_path_setting_may_hold_any_bytes(isolated, monkeypatch):
    monkeypatch.setenv("LAKECTL_STATE_DIR", str(isolated / "st\udcffate"))
    assert load_settings().state_dir.name == "st\udcffate"
