"""`python -m ioc roster show|export|import|duty` on a real Redis: the round trip, refusals with
exit status 2 and the reason, and secrets kept out of `show`."""

from __future__ import annotations

import json

import pytest

from ioc.__main__ import main
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.roster_store import RosterStore
from tests.unit.test_roster import sample


@pytest.fixture
def cli(redis_client, redis_server_proc, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_server_proc.url)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def roster_file(tmp_path):
    data = sample()
    data["contacts"][1]["department"] = data["groups"][0]["department"] = "urban_management"
    path = tmp_path / "roster.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_import_stores_the_roster_and_audits_it_as_the_cli_user(cli, roster_file, redis_client):
    code, out, _ = cli("roster", "import", str(roster_file))
    assert code == 0 and "imported 3 contacts, 3 groups, 3 shifts (version 1)" in out
    entry = AuditLog(redis_client).recent(1, action="roster.update")[0]
    assert entry.actor.startswith("cli:") and entry.detail["source"] == "import"


def test_export_writes_what_import_read_with_the_keys(cli, roster_file, tmp_path):
    cli("roster", "import", str(roster_file))
    target = tmp_path / "out.json"
    assert cli("roster", "export", str(target))[0] == 0
    exported = json.loads(target.read_text(encoding="utf-8"))
    assert exported["groups"][0]["key"] == "k-um-1" and exported["version"] == 1
    assert (target.stat().st_mode & 0o777) == 0o600


def test_export_to_standard_output(cli, roster_file):
    cli("roster", "import", str(roster_file))
    code, out, _ = cli("roster", "export")
    assert code == 0 and json.loads(out)["contacts"][0]["name"] == "王敏"


def test_show_hides_robot_keys_and_secrets(cli, roster_file):
    cli("roster", "import", str(roster_file))
    for argv in (("roster", "show"), ("roster", "show", "--json")):
        code, out, _ = cli(*argv)
        assert code == 0 and "k-um-1" not in out and "SECabc" not in out and "城管局值班群" in out


def test_show_names_who_is_on_duty_at_a_time(cli, roster_file):
    cli("roster", "import", str(roster_file))
    code, out, _ = cli("roster", "show", "--at", "2026-12-07T02:00")
    assert code == 0 and "值班领导 王敏 13812345678" in out.split("on duty at")[1]


def test_a_bad_file_is_refused_with_exit_2_and_the_place(cli, roster_file, redis_client):
    data = json.loads(roster_file.read_text(encoding="utf-8"))
    data["contacts"][0]["phone"] = "12345"
    roster_file.write_text(json.dumps(data), encoding="utf-8")
    code, _, err = cli("roster", "import", str(roster_file))
    assert code == 2 and "contacts[0].phone" in err
    assert RosterStore(redis_client).version() == 0


def test_a_file_that_is_not_json_is_refused_with_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{contacts:", encoding="utf-8")
    code, _, err = cli("roster", "import", str(bad))
    assert code == 2 and "not JSON" in err


def test_a_redacted_export_imports_back_keeping_the_stored_keys(cli, roster_file, tmp_path, redis_client):
    cli("roster", "import", str(roster_file))
    redacted = tmp_path / "redacted.json"
    redacted.write_text(cli("roster", "show", "--json")[1], encoding="utf-8")
    assert cli("roster", "import", str(redacted))[0] == 0
    assert RosterStore(redis_client).get().group("um-wecom").key == "k-um-1"


def test_duty_adds_a_shift(cli, roster_file, redis_client):
    cli("roster", "import", str(roster_file))
    code, out, _ = cli("roster", "duty", "dispatch", "li", "--from", "2026-12-08T08:00", "--to", "2026-12-08T20:00")
    assert code == 0 and "李强 on duty for dispatch" in out
    shifts = RosterStore(redis_client).get().shifts
    assert shifts[-1].unit == "dispatch" and shifts[-1].contact_id == "li"


def test_an_overlapping_duty_is_refused_with_exit_2(cli, roster_file):
    cli("roster", "import", str(roster_file))
    code, _, err = cli("roster", "duty", "center", "li", "--from", "2026-12-07T06:00", "--to", "2026-12-07T10:00",
                       "--role", "值班领导")
    assert code == 2 and "overlaps" in err


def test_duty_for_an_unknown_contact_or_unit_is_refused(cli, roster_file):
    cli("roster", "import", str(roster_file))
    assert "unknown contact" in cli("roster", "duty", "center", "nobody", "--from", "2026-12-09T08:00", "--to", "2026-12-09T20:00")[2]
    assert "unknown department" in cli("roster", "duty", "fire_brigade", "li", "--from", "2026-12-09T08:00", "--to", "2026-12-09T20:00")[2]


def test_without_redis_url_the_cli_says_so_with_exit_2(monkeypatch, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["roster", "show"]) == 2 and "REDIS_URL" in capsys.readouterr().err


def test_python_m_ioc_receivers_prints_the_urls_and_accepts_messages(tmp_path):
    import os
    import subprocess
    import sys

    from ioc.domain.roster import Group
    from ioc.notify.channels import Message, WeComRobot
    from ioc.settings import REPO_ROOT

    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    proc = subprocess.Popen([sys.executable, "-m", "ioc", "receivers"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        urls = {}
        for line in proc.stdout:
            if "=" in line and line.startswith("IOC_NOTIFY_"):
                name, value = line.strip().split("=", 1)
                urls[name] = value
            if line.startswith("what arrived"):
                break
        assert set(urls) == {"IOC_NOTIFY_WECOM_URL", "IOC_NOTIFY_DINGTALK_URL", "IOC_NOTIFY_FEISHU_URL",
                             "IOC_NOTIFY_SMS_URL", "IOC_NOTIFY_SMTP_URL"}
        WeComRobot(urls["IOC_NOTIFY_WECOM_URL"]).send(Group("g", "群", "", "wecom", "any-key"), Message("t", "hello"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
