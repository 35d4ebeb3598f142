from __future__ import annotations

from pathlib import Path

import pytest

import batchkit as bk
from batchkit._config import resolve_provider
from batchkit._registry import _BUILTIN, get_adapter_class, make_adapter, parse_provider
from batchkit.testing import FakeAdapter


def test_builtin_table_is_alphabetical() -> None:
    assert list(_BUILTIN) == sorted(_BUILTIN)


def test_parse_and_lazy_load() -> None:
    assert parse_provider("fake:some-model:with-colons") == ("fake", "some-model:with-colons")
    adapter = make_adapter("fake:m", {"max_requests": 3})
    assert isinstance(adapter, FakeAdapter) and adapter.model == "m"


def test_register_provider_and_clobber() -> None:
    class Mine(FakeAdapter):
        name = "mine"

    bk.register_provider("mine", Mine)
    assert get_adapter_class("mine") is Mine
    with pytest.raises(bk.ConfigError, match="already registered"):
        bk.register_provider("mine", Mine)
    bk.register_provider("mine", "batchkit.testing._fake:FakeAdapter", clobber=True)
    assert get_adapter_class("mine") is FakeAdapter


def test_entry_points_are_consulted(monkeypatch: pytest.MonkeyPatch) -> None:
    from batchkit import _registry

    monkeypatch.setattr(_registry, "_entry_point_targets",
                        lambda: {"plugged": "batchkit.testing._fake:FakeAdapter"})
    assert get_adapter_class("plugged") is FakeAdapter
    with pytest.raises(bk.UnknownProviderError, match="did you mean 'plugged'"):
        get_adapter_class("pluged")


def test_provider_from_env_and_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(bk.ConfigError, match="no provider given"):
        resolve_provider()
    (tmp_path / "batchkit.toml").write_text(
        '[default]\nprovider = "fake:default-model"\noptions = { max_requests = 7 }\n'
        '[profiles.cheap]\nprovider = "fake:cheap"\n'
    )
    assert resolve_provider().provider == "fake:default-model"
    assert resolve_provider().options == {"max_requests": 7}
    monkeypatch.setenv("BATCHKIT_PROVIDER", "fake:from-env")
    assert resolve_provider().provider == "fake:from-env"
    assert resolve_provider(profile="cheap").provider == "fake:cheap"
    assert resolve_provider("fake:explicit").provider == "fake:explicit"
    with pytest.raises(bk.ConfigError, match=r"no profile 'dear'.*cheap"):
        resolve_provider(profile="dear")


def test_profile_switches_a_job(tmp_path: Path) -> None:
    (tmp_path / "batchkit.toml").write_text('[profiles.small]\nprovider = "fake:tiny"\n'
                                            'options = { max_requests = 2 }\n')
    job = bk.submit([bk.EmbedRequest(custom_id=f"d{i}", text=f"x{i}") for i in range(5)],
                    profile="small")
    assert job.provider == "fake:tiny" and len(job.shards) == 3


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "batchkit.toml").write_text("[default\n")
    with pytest.raises(bk.ConfigError, match="not valid TOML"):
        resolve_provider()
