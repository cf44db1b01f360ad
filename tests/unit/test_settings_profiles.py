"""The settings of roles and files: DEFAULT_ROLE, FILES_DIR, FILES_URL and the S3 credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.infrastructure.settings import ConfigError, Settings, load_settings


def load(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"PARLEY_VAR_DIR": str(tmp_path), **env}, env_file=None)


def test_defaults_are_creators_and_a_folder_under_the_var_dir(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.identity.default_role == "creator"
    assert settings.files.directory == tmp_path / "files"
    assert settings.files.url is None
    assert load(tmp_path, DEFAULT_ROLE="Viewer").identity.default_role == "viewer"


@pytest.mark.parametrize("role", ["admin", "moderator", "member", "anyone"])
def test_sign_ups_never_become_staff_by_configuration(tmp_path: Path, role: str) -> None:
    with pytest.raises(ConfigError, match="DEFAULT_ROLE"):
        load(tmp_path, DEFAULT_ROLE=role)


@pytest.mark.parametrize("url", ["https://bucket/x", "s3://", "s3:///prefix", "bucket/prefix"])
def test_files_url_must_name_an_s3_bucket(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="FILES_URL"):
        load(tmp_path, FILES_URL=url)


def test_s3_credentials_go_together_and_are_masked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FILES_S3_SECRET_ACCESS_KEY"):
        load(tmp_path, FILES_URL="s3://b", FILES_S3_ACCESS_KEY_ID="AKIAEXAMPLE")
    with pytest.raises(ConfigError, match="FILES_S3_ENDPOINT"):
        load(tmp_path, FILES_S3_ENDPOINT="ftp://minio")
    settings = load(
        tmp_path,
        FILES_URL="s3://bucket/team/",
        FILES_S3_ENDPOINT="http://minio:9000",
        FILES_S3_ACCESS_KEY_ID="AKIAEXAMPLE",
        FILES_S3_SECRET_ACCESS_KEY="wJalrXUtnFEMI-secret",
    )
    assert settings.files.url == "s3://bucket/team"
    shown = settings.masked()
    assert shown["FILES_S3_SECRET_ACCESS_KEY"] == "****"
    assert "wJalrXUtnFEMI-secret" not in repr(settings) + repr(shown)
