"""deploy/dataflow is consistent with the project, the package stages the way Dataflow stages it,
and the batch job gives the same output through Beam's portable job API as on the DirectRunner."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, SEEDS
from pipeline.job import parse_options, run_job

DEPLOY = ROOT / "deploy" / "dataflow"


def _pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text()


def test_image_uses_the_same_beam_and_python_as_the_project():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    beam = re.search(r"ARG BEAM_VERSION=(\S+)", dockerfile).group(1)
    python = re.search(r"ARG PYTHON_VERSION=(\S+)", dockerfile).group(1)
    low, high = re.search(r'"apache-beam>=([\d.]+),<([\d.]+)"', _pyproject()).groups()
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(low) <= as_tuple(beam) < as_tuple(high)
    pinned = re.search(r"^apache-beam==(\S+)$", (DEPLOY / "requirements.txt").read_text(), re.MULTILINE).group(1)
    assert pinned == beam
    requires = re.search(r'requires-python = ">=([\d.]+),<([\d.]+)"', _pyproject()).groups()
    assert as_tuple(requires[0]) <= as_tuple(python) < as_tuple(requires[1])
    assert f"python{python.replace('.', '')}-template-launcher-base" in dockerfile
    assert "pip check" in dockerfile and 'ENTRYPOINT ["/opt/apache/beam/boot"]' in dockerfile


def test_requirements_are_fully_pinned_and_cover_the_dependencies():
    lines = [line.strip() for line in (DEPLOY / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^\s=]+", line) for line in lines), lines[:5]
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    block = re.search(r"dependencies = \[(.*?)\]", _pyproject(), re.S).group(1)
    wanted = {name.lower().replace("_", "-") for name in re.findall(r'"([A-Za-z0-9_.\-]+)[^"]*"', block)}
    assert wanted <= pinned, wanted - pinned


def test_template_metadata_matches_the_options_class():
    sys.path.insert(0, str(DEPLOY))
    try:
        from make_metadata import BEAM_PARAMETERS, parameters
    finally:
        sys.path.remove(str(DEPLOY))
    metadata = json.loads((DEPLOY / "metadata.json").read_text())
    names = [p["name"] for p in metadata["parameters"]]
    assert len(names) == len(set(names))
    assert names == [p["name"] for p in parameters()], "run deploy/dataflow/make_metadata.py"
    assert metadata["parameters"] == parameters()
    for param in metadata["parameters"]:
        assert param["label"] and param["helpText"] and isinstance(param["isOptional"], bool)
    assert {p["name"] for p in BEAM_PARAMETERS} == {"streaming", "sdk_container_image"}
    # every parameter is accepted the way the Flex Template launcher passes it: --name=value
    flags = ["--output=gs://b/out", "--input=gs://b/in/*.jsonl", "--no_tagging=true", "--no_near_dedup=false",
             "--near_threshold=0.8", "--fetch_retries=2", "--dedup_horizon=2d"]
    _, nb = parse_options(flags)
    assert nb.no_tagging is True and nb.no_near_dedup is False and nb.near_threshold == 0.8


def test_staged_package_holds_the_code_and_its_data(tmp_path):
    pytest.importorskip("build", reason="the build module is in the test extra")
    from apache_beam.runners.portability.stager import Stager

    sdist = Stager._build_setup_package(str(ROOT / "pyproject.toml"), str(tmp_path))
    names = set(tarfile.open(sdist).getnames())
    top = Path(sorted(names)[0]).parts[0]
    for needed in ("pipeline/factory.py", "pipeline/cli.py", "schemas/models.py", "schemas/json/articles.schema.json",
                   "pipeline/tagging/data/iptc_topics.json", "pipeline/tagging/data/country_aliases.tsv",
                   "pipeline/tagging/data/ambiguous_places.txt", "pipeline/tagging/data/stopwords_en.txt"):
        assert f"{top}/{needed}" in names, needed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


def _snapshot(out: Path) -> dict:
    con = duckdb.connect()
    view = lambda ds: f"read_parquet('{out}/{ds}/**/*.parquet', hive_partitioning = true)"  # noqa: E731
    return {
        "articles": con.execute(f"SELECT article_id, title, language, tags, cluster_id, duplicate_count FROM {view('articles')} ORDER BY 1").fetchall(),
        "duplicates": con.execute(f"SELECT article_id, duplicate_of, kind, matched_on FROM {view('duplicates')} ORDER BY 1, 2").fetchall(),
        "rejected": con.execute(f"SELECT input_uri, stage, reason, position FROM read_parquet('{out}/rejected/*.parquet') ORDER BY ALL").fetchall(),
    }


def test_portable_runner_gives_the_direct_runners_output(tmp_path):
    job_port, pool_port = _free_port(), _free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    services = [
        subprocess.Popen([sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
                          "--port", str(job_port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                          "--service_port", str(pool_port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        _wait_for_port(job_port)
        _wait_for_port(pool_port)
        portable = run_job(["--input", f"{SEEDS}/**", "--output", str(tmp_path / "portable"), "--runner", "PortableRunner",
                            "--job_endpoint", f"localhost:{job_port}", "--environment_type", "EXTERNAL",
                            "--environment_config", f"localhost:{pool_port}"])
    finally:
        for process in services:
            process.terminate()
        for process in services:
            process.wait(timeout=30)
    direct = run_job(["--input", f"{SEEDS}/**", "--output", str(tmp_path / "direct")])
    assert portable.state == direct.state == "DONE"
    assert _snapshot(tmp_path / "portable") == _snapshot(tmp_path / "direct")
    assert len(_snapshot(tmp_path / "direct")["articles"]) == 13
