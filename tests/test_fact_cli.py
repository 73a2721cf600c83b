"""`evidence fact …` through Typer's CliRunner on a real archive, and once as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evidence_archiver import Archive
from evidence_archiver.cli import app
from test_facts import MESSAGES, capture


@pytest.fixture
def items(archive_path: Path) -> dict[int, int]:
    with Archive(archive_path) as archive:
        archive.ingest(
            [capture(n, *m) for n, m in enumerate(MESSAGES)], connector="eml", container="t"
        )
        archive.create_case("LenderX", slug="lenderx", rules=[("domain", "lenderx.com")])
        archive.create_case("Bank", slug="bank", rules=[("domain", "bank.example")])
        return {int(t[1:]): int(i) for i, t in archive.conn.execute("SELECT id, title FROM items")}


@pytest.fixture
def run(archive_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, input: str | None = None) -> str:  # noqa: A002
        result = runner.invoke(
            app, list(args), env={"EVIDENCE_ARCHIVE": str(archive_path)}, input=input
        )
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    return invoke


def test_add_list_edit_remove_with_json(run, items: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
    made = json.loads(
        run(
            "fact",
            "add",
            str(items[0]),
            "--kind",
            "promise",
            "--text",
            "Deferred to 15 October",
            "--due",
            "2024年10月15日",
            "--amount",
            "5,265.76",
            "--currency",
            "元",
            "--by",
            "工号 KF1234",
            "--json",
        )  # fmt: skip
    )
    assert made["items"] == [items[0]]
    assert (made["due"], made["amount"], made["currency"], made["by"]) == (
        "2024-10-15",
        "5265.76",
        "CNY",
        "工号 KF1234",
    )
    second = json.loads(
        run(
            "fact",
            "add",
            str(items[2]),
            "--cites",
            str(items[4]),
            "--kind",
            "breach",
            "--text",
            "Late fees anyway",
            "--json",
        )  # fmt: skip
    )
    assert second["items"] == [items[2], items[4]]
    listed = json.loads(run("fact", "list", "lenderx", "--json"))
    assert [f["id"] for f in listed["facts"]] == [made["id"], second["id"]]
    assert [b["item"] for b in listed["possible_breaches"]] == [items[2]]
    text = run("fact", "list", "lenderx")
    assert "Possible breach of fact" in text
    assert "Deferred to 15" in text
    edited = json.loads(
        run("fact", "edit", str(made["id"]), "--clear", "amount", "--on", "2024-07-04", "--json")
    )
    assert (edited["amount"], edited["currency"], edited["on"]) == (None, None, "2024-07-04")
    assert json.loads(run("fact", "remove", str(second["id"]), "--json")) == {
        "removed": [second["id"]]
    }
    assert "Removed 1 fact" in run("fact", "remove", str(made["id"]))
    assert "No facts yet" in run("fact", "list", "lenderx")


def test_usage_errors_are_one_line_and_exit_2(run, items: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
    out = run("fact", "add", str(items[5]), "--kind", "promise", "--text", "x",
              "--case", "lenderx", code=2)  # fmt: skip
    assert "not in the case" in out
    assert "--kind" in run("fact", "add", str(items[0]), "--text", "x", code=2)
    assert "amount" in run("fact", "add", str(items[0]), "--kind", "other", "--text", "x",
                           "--amount", "12.3.4", code=2)  # fmt: skip
    assert "date" in run("fact", "add", str(items[0]), "--kind", "other", "--text", "x",
                         "--due", "soon", code=2)  # fmt: skip
    assert "no fact 42" in run("fact", "edit", "42", "--text", "y", code=2)
    assert "no case" in run("fact", "list", "nope", code=2)


def test_suggest_accept_and_reject_by_id(run, items: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
    found = json.loads(run("fact", "suggest", "lenderx", "--json"))
    by_item = {s["item"]: s for s in found}
    promise, fee = by_item[items[0]], by_item[items[2]]
    assert (promise["kind"], promise["due"]) == ("promise", "2024-10-15")
    assert (fee["kind"], fee["amount"], fee["currency"]) == ("demand", "50.02", "CNY")
    assert json.loads(run("fact", "list", "lenderx", "--json"))["facts"] == []
    accepted = json.loads(run("fact", "accept", promise["id"], "--by", "Agent 1234", "--json"))
    assert accepted[0]["by"] == "Agent 1234"
    assert accepted[0]["suggestion"] == promise["id"]
    run("fact", "reject", fee["id"])
    again = {s["id"] for s in json.loads(run("fact", "suggest", "lenderx", "--json"))}
    assert promise["id"] not in again
    assert fee["id"] not in again
    assert "already" in run("fact", "accept", fee["id"], code=2)


def test_review_prompts_for_each_suggestion(run, items: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
    count = len(json.loads(run("fact", "suggest", "lenderx", "--json")))
    assert count >= 2
    out = run("fact", "suggest", "lenderx", "--review", input="a\nr\nq\n")
    assert "Accepted 1, rejected 1, skipped 0" in out
    left = json.loads(run("fact", "suggest", "lenderx", "--json"))
    assert len(left) == count - 2
    assert len(json.loads(run("fact", "list", "lenderx", "--json"))["facts"]) == 1


def test_fact_commands_run_as_a_subprocess(archive_path: Path, items: dict[int, int]) -> None:
    env = {**os.environ, "EVIDENCE_ARCHIVE": str(archive_path)}
    result = subprocess.run(
        [sys.executable, "-m", "evidence_archiver", "fact", "suggest", "lenderx", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert any(s["kind"] == "promise" for s in json.loads(result.stdout))


def test_show_lists_the_facts_citing_an_item(run, items: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
    run("fact", "add", str(items[0]), "--kind", "promise", "--text", "Deferred to October")
    shown = json.loads(run("show", str(items[0]), "--json"))
    assert [f["text"] for f in shown["facts"]] == ["Deferred to October"]
    assert "Fact 1 (promise, lenderx): Deferred to October" in run("show", str(items[0]))
    assert json.loads(run("show", str(items[2]), "--json"))["facts"] == []
