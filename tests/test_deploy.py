"""The production stack's files: docker-compose.yml valid against the Compose specification, images
pinned, no secret written in, every worker setting one the code reads, the Dockerfile installing the
project as the README does, and the namespace set up with the project's search attributes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from workflows import search_attributes

PROJECT = Path(__file__).resolve().parents[1]
COMPOSE = YAML(typ="safe").load((PROJECT / "docker-compose.yml").read_text())


def test_the_compose_file_is_valid_against_the_compose_specification():
    checked = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"],
        cwd=PROJECT, capture_output=True, text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_stack_has_its_services_started_in_order_of_health():
    services = COMPOSE["services"]
    assert set(services) >= {
        "postgresql", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui", "codec-server", "worker",
        "prometheus", "grafana",
    }
    assert services["temporal"]["depends_on"] == {"temporal-schema": {"condition": "service_completed_successfully"}}
    assert services["temporal-schema"]["depends_on"] == {"postgresql": {"condition": "service_healthy"}}
    assert services["worker"]["depends_on"] == {"temporal-namespace": {"condition": "service_completed_successfully"}}
    assert "healthcheck" in services["postgresql"] and "healthcheck" in services["temporal"]
    assert set(COMPOSE["volumes"]) >= {"postgres-data", "outbox", "reports"}


def test_every_image_is_pinned_and_no_secret_is_written_in():
    for name, service in COMPOSE["services"].items():
        if "image" in service:
            assert re.fullmatch(r"[\w./-]+:v?\d[\w.-]*", service["image"]), f"{name}: {service['image']} is not pinned"
    text = (PROJECT / "docker-compose.yml").read_text()
    for line in text.splitlines():
        if re.search(r"(PASSWORD|PWD)\b", line) and ":" in line and not line.lstrip().startswith("#"):
            assert "${" in line, f"a secret written into docker-compose.yml: {line.strip()}"


def test_the_stack_is_closed_by_default():
    services = COMPOSE["services"]
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert set(published) == {"temporal", "temporal-ui", "codec-server", "console", "prometheus", "grafana"}  # never the database
    for name, ports in published.items():
        for port in ports:
            assert re.fullmatch(r"\$\{[A-Z_]+_BIND_IP:-127\.0\.0\.1\}:\d+:\d+", port), f"{name}: {port} not on loopback"

    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_AUTH_ENABLED"] == "true" and ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    for setting in ("TEMPORAL_AUTH_PROVIDER_URL", "TEMPORAL_AUTH_CLIENT_ID", "TEMPORAL_AUTH_CLIENT_SECRET", "TEMPORAL_AUTH_CALLBACK_URL"):
        assert ":?" in ui[setting], f"{setting}: the UI must not start without its sign-in"
    assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true" and "8081" in ui["TEMPORAL_CODEC_ENDPOINT"]

    codec = services["codec-server"]
    assert codec["command"] == ["python", "codec_server.py"] and codec["secrets"] == ["safeguarding_keys"]
    assert ":?" in codec["environment"]["SAFEGUARDING_CODEC_OIDC_JWKS_URL"]  # credentials required
    assert "8080" in codec["environment"]["SAFEGUARDING_CODEC_ORIGINS"]  # the UI's origin
    worker = services["worker"]
    assert worker["secrets"] == ["safeguarding_keys"]
    assert worker["environment"]["SAFEGUARDING_KEY_FILE"] == "/run/secrets/safeguarding_keys"
    assert ":?" in COMPOSE["secrets"]["safeguarding_keys"]["file"]  # a key file outside the repository
    for name in ("worker", "temporal-namespace"):
        assert "TEMPORAL_TLS_CLIENT_CERT_PATH" in services[name]["environment"]
    assert "TEMPORAL_TLS_FRONTEND_CERT" in services["temporal"]["environment"]


def test_the_console_is_a_service_of_its_own_with_its_own_key_and_secrets():
    console = COMPOSE["services"]["console"]
    assert console["command"] == ["python", "-m", "console"] and console["secrets"] == ["safeguarding_keys"]
    environment = console["environment"]
    assert ":?" in environment["SAFEGUARDING_CONSOLE_SECRET"], "no session secret written in or defaulted"
    assert environment["SAFEGUARDING_CONSOLE_SIGNING_KEY"].startswith("/app/console-key/")
    assert not any("console-key" in volume for volume in COMPOSE["services"]["worker"]["volumes"]), "the worker never holds the console's private key"
    assert "signing:/app/data/signing" in COMPOSE["services"]["worker"]["volumes"]
    assert not any(volume.startswith("signing:") for volume in console["volumes"]), "the console never holds the worker's trust or the command line's key"
    trust = COMPOSE["services"]["console-trust"]
    assert trust["command"] == ["python", "-m", "console", "trust-key"] and "restart" not in trust
    assert set(trust["volumes"]) == {"signing:/app/data/signing", "console-key:/app/console-key"}
    assert trust["environment"]["SAFEGUARDING_CONSOLE_SIGNING_KEY"] == environment["SAFEGUARDING_CONSOLE_SIGNING_KEY"]
    assert console["depends_on"]["console-trust"]["condition"] == "service_completed_successfully"
    assert {f"SAFEGUARDING_CONSOLE_OIDC_{name}" for name in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET", "REDIRECT_URL")} <= set(environment)
    code = "".join((PROJECT / name).read_text() for name in ("settings.py", "signing.py", "register/db.py", "console/auth.py",
                                                             "console/accounts.py", "console/__main__.py", "console/oidc.py"))
    read = set(re.findall(r'"((?:TEMPORAL|SAFEGUARDING)_[A-Z_]+)"', code))
    assert set(environment) <= read, f"settings the console never reads: {set(environment) - read}"


def test_the_worker_reads_every_setting_it_is_given():
    read = set(re.findall(r'"((?:TEMPORAL|SAFEGUARDING)_[A-Z_]+)"', (PROJECT / "settings.py").read_text()))
    read |= set(re.findall(r'"(SAFEGUARDING_[A-Z_]+)"', (PROJECT / "register" / "db.py").read_text()))
    read |= set(re.findall(r'"(SAFEGUARDING_[A-Z_]+)"', (PROJECT / "metrics.py").read_text()))
    given = set(COMPOSE["services"]["worker"]["environment"])
    assert given <= read, f"settings the code never reads: {given - read}"
    assert "SAFEGUARDING_REGISTER_URL" in given and given >= {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"}


def test_the_dockerfile_installs_the_project_as_the_readme_does():
    run_sh = (PROJECT / "scripts" / "run.sh").read_text()
    test_sh = (PROJECT / "scripts" / "test.sh").read_text()
    dockerfile = (PROJECT / "Dockerfile").read_text()
    # The locked dependencies, every one hash-checked, then the project alone.
    assert "pip install --quiet --require-hashes -r requirements.lock" in run_sh
    assert "pip install --quiet --require-hashes -r requirements-test.lock" in test_sh
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in dockerfile
    for script in (run_sh, test_sh, dockerfile):
        assert re.search(r"pip install (--quiet |--no-cache-dir )?--no-deps -e \.", script)
        assert not re.search(r"pip install (--quiet |--no-cache-dir )?-e \.", script), "an unlocked install"
    assert 'CMD ["python", "worker.py"]' in dockerfile


def locked(name: str) -> dict[str, str]:
    text = (PROJECT / name).read_text()
    entries = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", text, re.M)
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==", text, re.M)
    assert len(entries) == len(pins), f"{name}: a pin without its hashes"
    return {n.lower().replace("_", "-"): v for n, v, _ in entries}


def test_the_lock_files_pin_what_pyproject_asks_for_with_hashes():
    import tomllib

    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    runtime, test = locked("requirements.lock"), locked("requirements-test.lock")
    assert runtime.items() <= test.items(), "the test lock runs other versions than production"
    for requirement, lock in [(r, runtime) for r in project["dependencies"]] + [
        (r, test) for r in project["optional-dependencies"]["test"]
    ]:
        pinned = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)", requirement.split("#")[0].strip())
        if pinned:
            name, version = pinned.group(1).lower().replace("_", "-"), pinned.group(2)
            assert lock.get(name) == version, f"{name}=={version} in pyproject.toml, {lock.get(name)} locked: re-lock"


def test_the_namespace_gets_the_projects_search_attributes():
    script = (PROJECT / "deploy" / "setup-namespace.sh").read_text()
    registered = dict(re.findall(r"(\w+)=(Keyword|Datetime|Bool)", script))
    assert registered == {key.name: key.indexed_value_type.name.title() for key in search_attributes.ALL}
    assert "--retention" in script


# ---- monitoring: Prometheus, its alert rules, Grafana ---------------------------------------------------

DEPLOY = PROJECT / "deploy"


def alert_rules() -> list[dict]:
    rules = YAML(typ="safe").load((DEPLOY / "alert-rules.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "safeguarding.json").read_text())


def expressions() -> list[str]:
    """Every PromQL expression of the alert rules and the dashboard."""
    found = [rule["expr"] for rule in alert_rules()]
    found += [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]
    return found


def referenced_metrics() -> set[str]:
    """The worker's metric families the rules and the dashboard use (histogram series by family name)."""
    names: set[str] = set()
    for expr in expressions():
        for name in re.findall(r"\b((?:temporal|safeguarding)_[a-z_]+)\b", expr):
            names.add(re.sub(r"_(bucket|sum|count)$", "", name))
    return names


def test_the_alert_rules_cover_a_missed_deadline_a_failing_activity_and_a_worker_down():
    rules = {rule["alert"]: rule for rule in alert_rules()}
    assert all(set(rule) >= {"alert", "expr", "labels", "annotations"} for rule in rules.values())
    assert "safeguarding_deadlines_missed" in rules["StatutoryDeadlineMissed"]["expr"]
    assert "temporal_activity_execution_failed" in rules["ActivityFailingForAnHour"]["expr"]
    assert rules["ActivityFailingForAnHour"]["for"] == "1h"
    assert 'up{job="safeguarding-worker"}' in rules["WorkerDown"]["expr"]
    # A count that fails says so (up 0); one that stopped is caught by its age.
    assert "safeguarding_case_metrics_refreshed_timestamp_seconds" in rules["CaseMetricsFailing"]["expr"]


def test_prometheus_scrapes_the_worker_and_loads_the_rules_compose_mounts():
    config = YAML(typ="safe").load((DEPLOY / "prometheus.yml").read_text())
    services = COMPOSE["services"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in services["prometheus"]["volumes"] if volume.startswith("./")}
    for rule_file in config["rule_files"]:
        assert (PROJECT / mounts[rule_file]).resolve() == (DEPLOY / "alert-rules.yml").resolve()
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "safeguarding-worker"
    port = services["worker"]["environment"]["SAFEGUARDING_METRICS_ADDRESS"].rsplit(":", 1)[1]
    assert job["static_configs"][0]["targets"] == [f"worker:{port}"]
    assert port in [str(p) for p in services["worker"]["expose"]]


def test_grafana_is_provisioned_with_the_dashboard():
    grafana = COMPOSE["services"]["grafana"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in grafana["volumes"] if volume.startswith("./")}
    provisioning = PROJECT / mounts["/etc/grafana/provisioning"]
    datasource = YAML(typ="safe").load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    provider = YAML(typ="safe").load((provisioning / "dashboards" / "safeguarding.yml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    assert (PROJECT / mounts[folder] / "safeguarding.json").is_file()
    panels = dashboard()["panels"]
    assert panels and all(panel["targets"] and panel["datasource"]["uid"] == datasource["datasources"][0]["uid"] for panel in panels)
    assert {"safeguarding_open_cases", "safeguarding_deadlines_due_within_week"} <= referenced_metrics()
