"""`workbench ps`: running crawls from RemoteControl job files (a real `scrapy runspider`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.processes import env, run, site_process
from workbench.remote import jobs
from workbench.remote.jobs import JobFileError, list_jobs, read_job

REPO = Path(__file__).resolve().parents[1]
SPIDER = REPO / "workbench" / "demo" / "spider.py"


def _job_file(directory: Path, name: str = "4242-abc.json", mode: int = 0o600, **data) -> Path:
    directory.mkdir(mode=0o700, exist_ok=True)
    content = {
        "version": 1,
        "pid": os.getpid(),
        "port": 40000,
        "token": "s3cret-token-value",
        "spider": "books",
        "project": "shop",
        "scrapy_version": "2.19.0",
        "start_time": 1_790_000_000.0,
        **data,
    }
    path = directory / name
    path.write_text(json.dumps(content))
    path.chmod(mode)
    return path


def test_a_real_crawl_is_listed_then_cleaned_when_gone(tmp_path):
    jobs_dir = tmp_path / "jobs"
    with site_process() as (_, url):
        crawl = subprocess.Popen(
            [sys.executable, "-m", "scrapy", "runspider", str(SPIDER), "-a", f"url={url}",
             "-s", "DOWNLOAD_DELAY=0.2", "-s", f"REMOTE_CONTROL_JOBS_DIR={jobs_dir}",
             "-L", "WARNING"],
            cwd=tmp_path, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not list(jobs_dir.glob("*.json")) and time.monotonic() < deadline:
                time.sleep(0.1)
            token = read_job(next(jobs_dir.glob("*.json"))).token
            result = run("ps", "--jobs-dir", str(jobs_dir), cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            header, line = result.stdout.splitlines()
            assert header.split() == ["PID", "SPIDER", "PROJECT", "SCRAPY", "STARTED", "JOB"]
            assert line.split()[:4] == [str(crawl.pid), "demo", "scrapybot", "2.19.0"]
            listed = json.loads(run("ps", "--jobs-dir", str(jobs_dir), "--json").stdout)
            assert [(j["pid"], j["spider"]) for j in listed] == [(crawl.pid, "demo")]
            assert listed[0]["job"].startswith(f"{crawl.pid}-")
            for out in (result.stdout, result.stderr, json.dumps(listed)):
                assert token not in out  # never printed
        finally:
            crawl.send_signal(signal.SIGKILL)  # no clean exit: its job file stays behind
            crawl.wait(10)
    assert list(jobs_dir.glob("*.json"))
    result = run("ps", "--jobs-dir", str(jobs_dir))
    assert result.returncode == 0 and result.stdout.startswith("No running Scrapy crawls")
    assert not list(jobs_dir.glob("*.json"))  # the stale file was removed


def test_loose_or_foreign_job_files_are_refused(tmp_path, monkeypatch):
    directory = tmp_path / "jobs"
    _job_file(directory, "1-ok.json")
    loose = _job_file(directory, "2-loose.json", mode=0o644)
    result = run("ps", "--jobs-dir", str(directory))
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 2  # header and the private one
    assert f"refusing job file {loose}: its mode 0644" in result.stderr
    assert "s3cret-token-value" not in result.stdout + result.stderr
    # a directory others can enter is refused as a whole
    directory.chmod(0o755)
    found = list_jobs(directory)
    assert not found.jobs and "refusing job directory" in found.problems[0]
    directory.chmod(0o700)
    # another user's file
    me = os.getuid()
    monkeypatch.setattr(jobs.os, "getuid", lambda: me + 1)
    with pytest.raises(JobFileError, match="belongs to uid"):
        read_job(directory / "1-ok.json")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "cannot read job file"),
        ('{"version": 2, "pid": 1, "port": 1, "token": "x"}', "format version 2"),
        ('{"version": 1, "pid": 1, "port": 0, "token": "x"}', "bad pid or port"),
        ('{"version": 1, "pid": 1, "port": 80}', "not a RemoteControl job file"),
        ("[1, 2]", "not a RemoteControl job file"),
    ],
)
def test_malformed_job_files_say_why(tmp_path, content, needle):
    path = _job_file(tmp_path / "jobs")
    path.write_text(content)
    with pytest.raises(JobFileError, match=needle):
        read_job(path)


def test_ps_without_jobs_and_with_bad_options(tmp_path):
    result = run("ps", "--jobs-dir", str(tmp_path / "none"))
    assert result.returncode == 0 and "No running Scrapy crawls" in result.stdout
    assert run("ps", "--jobs-dir", str(tmp_path / "none"), "--json").stdout.strip() == "[]"
    result = run("ps", "--bogus")
    assert result.returncode == 1 and "unrecognized arguments: --bogus" in result.stderr
    assert run("ps", "--help").returncode == 0


def test_attach_picks_one_of_several_crawls(tmp_path, monkeypatch, capsys):
    from workbench.commands.attach import pick_job
    from workbench.remote.jobs import list_jobs

    directory = tmp_path / "jobs"
    _job_file(directory, "1-first.json", spider="books", start_time=1.0)
    _job_file(directory, "2-second.json", spider="authors", start_time=2.0)
    answers = iter(["x", "3", "2"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    job = pick_job(list_jobs(directory), str(directory))
    assert job.spider == "authors"
    shown = capsys.readouterr().out
    assert "1. pid" in shown and "books" in shown and "2. pid" in shown
    assert shown.count("a number from 1 to 2") == 2
    assert "s3cret-token-value" not in shown
    monkeypatch.setattr("builtins.input", lambda prompt: "")
    assert pick_job(list_jobs(directory), str(directory)) is None  # Enter cancels
