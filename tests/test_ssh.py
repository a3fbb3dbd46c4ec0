"""workbench ps/attach --ssh: OpenSSH lists the job files and forwards the port.

A fake ``ssh`` (tests/fake_ssh.py) first on PATH plays the remote machine,
which is this one: the commands and the forward are real, only sshd is not.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.helpers.processes import run, site_process, start_plain_crawl
from workbench.remote.client import RemoteControlClient, choose_job
from workbench.remote.source import RemoteSource
from workbench.remote.ssh import Tunnel, list_remote_jobs, parse_listing

PAGES = 400  # as the remote-source tests' site


@pytest.fixture
def remote_crawl(tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    with site_process("--pages", str(PAGES)) as (_, url):
        job, jobs_dir, proc, _ = start_plain_crawl(remote, url)
        try:
            yield job, jobs_dir, proc
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(60)


def test_ps_and_attach_over_ssh(fake_ssh, remote_crawl):
    job, jobs_dir, proc = remote_crawl
    found = list_remote_jobs("crawler@box", str(jobs_dir))
    assert [j.pid for j in found.jobs] == [proc.pid] and found.problems == []
    remote_job = choose_job(found, str(proc.pid), "box")
    assert remote_job.token == job.token and remote_job.port == job.port
    with Tunnel("crawler@box", remote_job) as tunnel:
        assert tunnel.port != job.port
        client = RemoteControlClient(tunnel.job)
        assert client.status()["pid"] == proc.pid
        source = RemoteSource(client)
        assert source.attach()["mode"] == "full"
        source.poll_once()
        assert source.snapshot().status.state in ("running", "closing")
        source.close()
    calls = fake_ssh.read_text().splitlines()
    forward = next(c for c in calls if " -N " in f" {c} ")
    # the forward listens on the loopback address only, to the crawl's loopback port
    assert f"-L 127.0.0.1:{tunnel.port}:127.0.0.1:{job.port} crawler@box" in forward
    assert "ExitOnForwardFailure=yes" in forward
    assert job.token not in fake_ssh.read_text()  # never on a command line
    # the command line: ps lists it, and says nothing of the token
    result = run("ps", "--ssh", "crawler@box", "--jobs-dir", str(jobs_dir), "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [j["pid"] for j in listed] == [proc.pid] and job.token not in result.stdout


def test_ssh_failures_are_one_line(fake_ssh, tmp_path):
    result = run("ps", "--ssh", "unreachable")  # PATH (with the fake ssh) is inherited
    assert result.returncode == 1
    assert "ssh unreachable: ssh: connect to host unreachable port 22" in result.stderr
    result = run("attach", "--ssh=-oProxyCommand=x")  # an ssh option is not a host
    assert result.returncode == 1 and "--ssh takes a host" in result.stderr
    assert list_remote_jobs("box", str(tmp_path / "none")).jobs == []  # no directory: none


def _listing(uid=1000, dir_mode="700", files=()):
    lines = [f"uid {uid}", f"dir {uid} {dir_mode}"]
    for owner, mode, alive, name, data in files:
        raw = json.dumps(data).encode()
        lines.append(
            f"file {owner} {mode} {len(raw)} {alive} /home/u/.local/state/scrapy/job_files/{name}"
        )
        lines.append(base64.b64encode(raw).decode())
    return "\n".join(lines) + "\n"


JOB = {"version": 1, "pid": 42, "port": 5555, "token": "s3cret", "spider": "books",
       "project": "shop", "scrapy_version": "2.19.0", "start_time": 1.0}  # fmt: skip


def test_remote_job_files_get_the_local_checks():
    found = parse_listing(_listing(files=[(1000, "600", "1", "42-a.json", JOB)]), "box")
    assert [j.spider for j in found.jobs] == ["books"] and found.jobs[0].token == "s3cret"
    # another user's file, a loose file, a dead pid, a loose directory
    found = parse_listing(_listing(files=[(1001, "600", "1", "42-a.json", JOB)]), "box")
    assert found.jobs == [] and "belongs to uid 1001, not to you (1000)" in found.problems[0]
    found = parse_listing(_listing(files=[(1000, "644", "1", "42-a.json", JOB)]), "box")
    assert found.jobs == [] and "mode 0644" in found.problems[0]
    assert "s3cret" not in " ".join(found.problems)
    found = parse_listing(_listing(files=[(1000, "600", "0", "42-a.json", JOB)]), "box")
    assert found.jobs == [] and found.problems == []
    found = parse_listing(
        _listing(dir_mode="755", files=[(1000, "600", "1", "42-a.json", JOB)]), "box"
    )
    assert found.jobs == [] and "job directory" in found.problems[0]
    assert parse_listing("uid 1000\nnodir\n", "box").jobs == []
    bad = _listing() + "file 1000 600 10 1 /x/1-b.json\n!!notbase64\n"
    problems = parse_listing(bad, "box").problems
    assert len(problems) == 1 and problems[0].startswith("cannot read job file box:/x/1-b.json")
