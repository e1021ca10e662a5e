"""The CI recipes in docs/ci/: their YAML is checked for structure, and their commands are run, verbatim,
against the AWS demo estate (moto over HTTP, the real provider) with GitHub's and GitLab's files faked:
``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``, ``${{ steps.<id>.outputs.<name> }}``. Steps that install
nhiwarden or call other actions (checkout, cloud login, SARIF upload, artifact upload) are not run here;
their inputs are checked against the files the scan wrote instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from nhiwarden.reports import EXTENSIONS
from nhiwarden.sandbox.base import DemoEstate

from tests.reports.test_sarif import sarif_schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ci"
BIN = str(Path(sys.executable).parent)
EXPR = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")


def load_yaml(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((DOCS / name).read_text())
    assert isinstance(data, dict)
    return data


# ------------------------------------------------------------------------------------- structure


def github_workflow() -> dict[Any, Any]:
    return load_yaml("github-actions.yml")


def test_github_workflow_is_scheduled_and_uploads_sarif_summary_and_artifact():
    wf = github_workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    cron = triggers["schedule"][0]["cron"]
    assert len(cron.split()) == 5
    assert "workflow_dispatch" in triggers
    assert wf["permissions"]["security-events"] == "write"
    assert wf["permissions"]["contents"] == "read"
    steps = wf["jobs"]["scan"]["steps"]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    sarif_step = uses["github/codeql-action/upload-sarif"]
    assert sarif_step["with"]["sarif_file"] == f"out/report.{EXTENSIONS['sarif']}"
    assert sarif_step["if"] == "always()"
    assert uses["actions/upload-artifact"]["with"]["path"] == "out/"
    assert uses["actions/upload-artifact"]["if"] == "always()"
    runs = "\n".join(s.get("run", "") for s in steps)
    assert '"$GITHUB_STEP_SUMMARY"' in runs and f"out/report.{EXTENSIONS['markdown']}" in runs
    scan = next(s for s in steps if s.get("id") == "scan")
    for fmt in ("json", "sarif", "markdown", "html", "junit"):
        assert f"--format {fmt}" in scan["run"]
    assert "steps.scan.outputs.exit_code" in steps[-1]["run"]


def test_gitlab_job_publishes_the_junit_report():
    job = load_yaml("gitlab-ci.yml")["nhiwarden"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == f"out/report.{EXTENSIONS['junit']}"
    assert any("--format junit" in line for line in job["script"])
    assert any("schedule" in rule["if"] for rule in job["rules"])


def cron_line() -> str:
    lines = [ln for ln in (DOCS / "crontab").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1
    return lines[0]


def test_crontab_line_is_well_formed():
    fields = cron_line().split(None, 5)
    minute, hour, dom, month, dow, command = fields
    assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24
    assert (dom, month, dow) == ("*", "*", "1-5")
    assert "%" not in command.replace("\\%", ""), "cron turns a bare % into a newline"
    assert "nhiwarden scan" in command


# ------------------------------------------------------------------------------- run against demo


@pytest.fixture(scope="module")
def aws_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEstate]:
    try:
        from nhiwarden.sandbox.aws.demo import start_demo
    except ImportError as exc:  # pragma: no cover - depends on the build
        pytest.skip(f"AWS demo estate not available: {exc}")
    with start_demo(tmp_path_factory.mktemp("aws-demo")) as estate:
        yield estate


@pytest.fixture
def repo(tmp_path: Path, aws_demo: DemoEstate) -> Path:
    """A checkout with the nhiwarden.yaml the recipes read, pointing the AWS provider at the demo."""
    config = {
        "providers": {"aws": aws_demo.settings},
        "exceptions": [
            {
                "rule": "static-credential",
                "identity": "*",
                "reason": "migration to OIDC planned",
                "owner": "platform@example.com",
                "expires": "2099-01-01",
            }
        ],
    }
    (tmp_path / "nhiwarden.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def environment(estate: DemoEstate, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NHIWARDEN_"))}
    env.update(estate.env)
    env.update(extra)
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    return env


def run_github_job(repo: Path, estate: DemoEstate) -> tuple[dict[str, int], dict[str, str], str]:
    """Run the job's shell steps as the runner would; return step exit codes, step outputs, summary."""
    steps = github_workflow()["jobs"]["scan"]["steps"]
    summary = repo / "step-summary.md"
    summary.write_text("")
    outputs: dict[str, dict[str, str]] = {}
    codes: dict[str, int] = {}
    failed = False
    for index, step in enumerate(steps):
        script = step.get("run")
        if script is None or "pip install" in script:
            continue
        if failed and step.get("if") != "always()":
            continue
        name = step.get("id") or f"step{index}"
        output_file = repo / f"github-output-{name}"
        output_file.write_text("")
        script = EXPR.sub(lambda m: outputs.get(m.group(1), {}).get(m.group(2), ""), script)
        assert "${{" not in script, f"unsupported expression in step {name}"
        env = environment(
            estate, {"GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary), "CI": "true"}
        )
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        codes[name] = proc.returncode
        assert not any(c in proc.stdout + proc.stderr for c in estate.canaries)
        outputs[name] = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        if proc.returncode != 0:
            failed = True
    flat = {f"{k}.{n}": v for k, d in outputs.items() for n, v in d.items()}
    return codes, flat, summary.read_text()


def assert_no_canary(paths: list[Path], estate: DemoEstate) -> None:
    assert estate.canaries, "the demo estate plants canary secrets"
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        for canary in estate.canaries:
            assert canary not in text, f"canary secret leaked into {path.name}"


def test_github_workflow_commands_run_against_the_demo_estate(repo: Path, aws_demo: DemoEstate):
    codes, outputs, summary = run_github_job(repo, aws_demo)
    assert codes["scan"] == 0, "the scan step records the exit code instead of failing"
    assert outputs["scan.exit_code"] == "1"  # the demo estate has high findings
    assert list(codes.values())[-1] == 1, "the last step fails the job"
    out = repo / "out"
    names = {p.name for p in out.iterdir()}
    for fmt in ("json", "sarif", "markdown", "html", "junit", "csv"):
        assert f"report.{EXTENSIONS[fmt]}" in names
    jsonschema.Draft4Validator(sarif_schema()).validate(json.loads((out / "report.sarif").read_text()))
    assert summary.startswith("## nhiwarden") and "111122223333" in summary
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["suppressed"] > 0, "the exception in nhiwarden.yaml applied"
    assert_no_canary([*out.iterdir(), repo / "step-summary.md"], aws_demo)

    # Second run with the first report as the committed baseline: nothing is new, the job passes.
    (repo / ".nhiwarden").mkdir()
    shutil.copy(out / "report.json", repo / ".nhiwarden" / "baseline.json")
    shutil.rmtree(out)
    codes, outputs, summary = run_github_job(repo, aws_demo)
    assert outputs["scan.exit_code"] == "0", summary
    assert list(codes.values())[-1] == 0
    assert "**0 new**" in summary
    sarif = json.loads((repo / "out" / "report.sarif").read_text())
    states = {r.get("baselineState") for r in sarif["runs"][0]["results"] if "suppressions" not in r}
    assert states == {"unchanged"}


def test_gitlab_job_commands_run_against_the_demo_estate(repo: Path, aws_demo: DemoEstate):
    job = load_yaml("gitlab-ci.yml")["nhiwarden"]
    lines = [ln for ln in [*job["before_script"], *job["script"]] if "pip install" not in ln]
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", "\n".join(lines)],
        cwd=repo,
        env=environment(aws_demo, {"CI": "true"}),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1, proc.stderr  # findings at or above high fail the job
    junit = repo / job["artifacts"]["reports"]["junit"]
    etree = pytest.importorskip("lxml.etree")
    xsd_path = Path(__file__).resolve().parents[2] / "reports" / "schema" / "vendor" / "JUnit.xsd"
    etree.XMLSchema(etree.parse(str(xsd_path))).assertValid(etree.parse(str(junit)))
    assert_no_canary(list((repo / "out").iterdir()), aws_demo)


def test_cron_line_runs_against_the_demo_estate(repo: Path, aws_demo: DemoEstate):
    command = cron_line().split(None, 5)[5].replace("\\%", "%").replace("/srv/nhiwarden", str(repo))
    proc = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd="/",
        env=environment(aws_demo, {}),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    (folder,) = (repo / "out").iterdir()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", folder.name)
    assert {"report.json", "report.html", "report.csv", "scan.log"} <= {p.name for p in folder.iterdir()}
    assert (folder / "scan.log").read_text().strip().endswith("exit 1")
    assert_no_canary(list(folder.iterdir()), aws_demo)
