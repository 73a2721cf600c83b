"""The interface in Chinese, through the real CLI: every help screen, usage errors, library errors,
summaries, and a catalogue that is complete and in step with the source."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import typer.main
from pypdf import PdfReader, PdfWriter
from rich.cells import cell_len
from typer.testing import CliRunner

from conftest import FIXTURES, PROJECT
from dovecot import HOST, ImapUser
from evidence_archiver.cli import app

ZH = {"EVIDENCE_LANG": "zh_CN", "COLUMNS": "80"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def flat(text: str) -> str:
    """Text without whitespace: rich wraps Chinese between any two characters."""
    return re.sub(r"\s+", "", text)


def _update_catalogue() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "update_catalogue", PROJECT / "scripts" / "update_catalogue.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*args: str, code: int = 0, archive: Path | None = None, **env: str) -> str:
    extra = {**ZH, **env}
    if archive is not None:
        extra["EVIDENCE_ARCHIVE"] = str(archive)
    result = CliRunner().invoke(app, list(args), env=extra)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


# -- the catalogue --------------------------------------------------------------------------------


def test_the_catalogue_holds_every_message_translated_and_nothing_stale(tmp_path: Path) -> None:
    """Extract into a fresh template (Babel over babel.cfg, plus every help text of the live
    command tree) and compare: a new English string, a removed one, a fuzzy or empty
    translation, or a translation that lost a {placeholder} or a rich style tag all fail."""
    catalogue = _update_catalogue()
    pot = tmp_path / "evidence.pot"
    assert catalogue.main(["--check", "--pot", str(pot)]) == 0
    template = pot.read_text(encoding="utf-8")
    # The template holds the three sources: marked calls, help texts, Click's messages.
    assert 'msgid "no date"' in template
    assert "Import every message of an mbox file." in template
    assert 'msgid "No such option: {name}"' in template
    assert "#:" not in template  # no source locations: merges stay quiet


def test_the_check_reports_missing_stale_fuzzy_and_broken_entries(tmp_path: Path) -> None:
    catalogue = _update_catalogue()
    from babel.messages.catalog import Catalog

    template = Catalog(locale="zh_CN")
    for message in ("New message", "Fuzzy one", "Empty one", "Lost {name}", "[bold]Bold[/] one"):
        template.add(message)
    po = Catalog(locale="zh_CN")
    po.add("Old message", "旧消息")
    po.add("Fuzzy one", "模糊", flags=["fuzzy"])
    po.add("Empty one", "")
    po.add("Lost {name}", "丢了")
    po.add("[bold]Bold[/] one", "粗体")
    found = "\n".join(catalogue.problems(template, po))
    assert "missing from evidence.po: 'New message'" in found
    assert "stale (no longer in the source): 'Old message'" in found
    assert "fuzzy" in found
    assert "untranslated: 'Empty one'" in found
    assert "placeholders differ from ['name']: 'Lost {name}'" in found
    assert "rich markup differs: '[bold]Bold[/] one'" in found


def test_jinja2_templates_are_extracted_too(tmp_path: Path) -> None:
    catalogue = _update_catalogue()
    templates = tmp_path / "src" / "evidence_archiver" / "ui" / "templates"
    templates.mkdir(parents=True)
    (templates / "case.html").write_text(
        '<h1>{{ _("Cases") }}</h1><p>{{ ngettext("%(num)d item", "%(num)d items", n) }}</p>',
        encoding="utf-8",
    )
    found = {m for m, _comments, _context in catalogue._source_messages(tmp_path)}
    assert found == {"Cases", ("%(num)d item", "%(num)d items")}


def test_updating_twice_changes_nothing(tmp_path: Path) -> None:
    catalogue = _update_catalogue()
    copy = tmp_path / "evidence.po"
    copy.write_bytes(catalogue.PO_FILE.read_bytes())
    template = catalogue.extract()
    catalogue.update(copy, template)
    first = copy.read_bytes()
    catalogue.update(copy, catalogue.extract())
    assert copy.read_bytes() == first == catalogue.PO_FILE.read_bytes()


def test_no_function_hides_gettext_behind_a_local_underscore() -> None:
    """`x, _ = …` in a function that also calls _() makes _ a local there: UnboundLocalError."""
    offenders = []
    for path in (PROJECT / "src").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if "i18n import" not in source:
            continue
        for fn in ast.walk(ast.parse(source)):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in _own_nodes(fn):
                if (
                    isinstance(node, ast.Name)
                    and node.id == "_"
                    and isinstance(node.ctx, ast.Store)
                ):
                    offenders.append(f"{path.relative_to(PROJECT)}:{node.lineno}")
    assert offenders == []


def _own_nodes(fn: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function body, not those of comprehensions or nested functions."""
    for child in ast.iter_child_nodes(fn):
        if isinstance(
            child,
            ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp | ast.Lambda
            | ast.FunctionDef | ast.AsyncFunctionDef,
        ):  # fmt: skip
            continue
        yield child
        yield from _own_nodes(child)


# -- every help screen ----------------------------------------------------------------------------


def _command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            if not getattr(sub, "hidden", False):
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


# What may stay in Latin letters on a Chinese help screen: names a user types or a format
# carries, and examples (a line from "evidence " on is a command to type).
ALLOWED = [
    r"evidence\b.*$",
    r"--[\w-]+(?:/--[\w-]+)?",
    r"<[^>]*>",
    r"\{[^}]*\}",
    r"\[OPTIONS\]|COMMAND|\[ARGS\]\.\.\.",
    r"SMS Backup & Restore|SMS Import/Export|Google Voice Takeout|Google Voice|GNOME Keyring",
    r"BagIt|Gmail Takeout|Thunderbird|WhatsApp/Signal|OAuth2|RFC 3161|ISO 8601",
]
ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}(?:[ ,']+[A-Za-z]{2,}){2,}")


def english_sentences(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        stripped = line.strip(" │╭╮╰╯─")
        for pattern in ALLOWED:
            stripped = re.sub(pattern, " ", stripped)
        match = ENGLISH_RUN.search(stripped)
        if match:
            found.append(f"{match.group(0)!r} in {line.strip()!r}")
    return found


def test_the_english_sentence_check_catches_english_and_allows_names() -> None:
    assert english_sentences("│ --out   <path>  Where to write the bundle │")
    assert not english_sentences("│ --out   <path>  证据包的保存位置（默认：archive.db）。 │")
    assert not english_sentences(" 示例：evidence import sms sms-20240820.xml --region CN ")
    assert not english_sentences(" 用法： evidence case new [OPTIONS] {title} ")


def test_chinese_help_breaks_between_characters_but_never_inside_a_latin_word() -> None:
    from evidence_archiver.cli.help_wrap import break_offsets

    text = "自动识别出错时，指定导出文件的格式：wechat-csv、wechat-html、chatlab。"
    lines = _broken(text, 30)
    assert lines == [
        "自动识别出错时，指定导出文件的",
        "格式：wechat-csv、",
        "wechat-html、chatlab。",
    ]
    assert all(cell_len(line) <= 30 for line in lines)
    # No line starts with a closing mark or ends with an opening one; Latin words stay whole.
    lines = _broken("默认：EVIDENCE_TZ，否则用本机时区（例如 Asia/Shanghai）。", 16)
    assert lines[:3] == ["默认：", "EVIDENCE_TZ，否", "则用本机时区（例"], lines
    assert "Asia/Shanghai）" in lines
    # A word longer than the line is folded rather than lost.
    assert "".join(_broken("a" * 25, 10)) == "a" * 25
    assert break_offsets("short", 80) == []


def _broken(text: str, width: int) -> list[str]:
    from evidence_archiver.cli.help_wrap import break_offsets

    cuts = [0, *break_offsets(text, width), len(text)]
    return [text[a:b].strip() for a, b in zip(cuts, cuts[1:], strict=False)]


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "evidence")
def test_every_help_screen_reads_in_chinese_at_80_columns(path: list[str]) -> None:
    out = run(*path, "--help")
    assert HAN.search(out), out
    assert english_sentences(out) == [], out
    assert max(cell_len(line) for line in out.splitlines()) <= 80, out
    for panel in ("选项", "用法："):
        assert panel in out


def test_help_in_english_is_unchanged_by_the_catalogue() -> None:
    out = run("case", "new", "--help", EVIDENCE_LANG="en")
    assert "Create a case; every archived item matching its rules is linked at once." in out
    assert "Options" in out
    assert "Usage:" in out
    # The examples' own Chinese (a case named 乐贷) is data, not interface.
    assert not HAN.search(out.replace("展期", "").replace("乐贷客服", "").replace("乐贷", ""))


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["search"], "缺少参数 'query'。"),
        (["search", "x", "--bogus"], "没有这个选项：--bogus"),
        (["serch", "x"], "没有 'serch' 这个命令。您是不是要用 'search'？"),
        (["search", "x", "--limit", "many"], "'--limit' 的值无效：应为整数"),
        (["search", "x", "--limit", "0"], "'--limit' 的值无效：应大于或等于 1"),
        (["search", "x", "--limit"], "选项 '--limit' 需要一个值。"),
        (["show", "1", "2"], "多出了无法识别的参数（2）"),
        (["verify", "b.zip", "--tsa-ca-file", "/no/such/ca.pem"], "文件 '/no/such/ca.pem' 不存在"),
    ],
)
def test_usage_errors_click_writes_itself_are_chinese(args: list[str], expected: str) -> None:
    out = run(*args, code=2)
    assert flat(expected) in flat(out), out
    assert "错误" in out
    assert english_sentences(out) == [], out
    # Where Click shows the usage line and the hint, they are Chinese too.
    assert "Usage" not in out
    assert "Try" not in out
    if args != ["search", "x", "--limit"]:
        assert "用法：" in out
        assert "查看帮助" in out


def test_a_missing_archive_file_is_reported_in_chinese(tmp_path: Path) -> None:
    out = run("status", archive=tmp_path / "nowhere.db", code=2)
    assert "错误：" in out
    assert flat("处没有档案库：请先运行 'evidence init'") in flat(out)


def test_a_missing_import_file_is_reported_in_chinese(tmp_path: Path, archive_path: Path) -> None:
    out = run("import", "sms", str(tmp_path / "gone.xml"), archive=archive_path, code=2)
    assert flat("gone.xml 不存在") in flat(out)
    out = run("import", "file", str(tmp_path / "gone.png"), archive=archive_path, code=2)
    assert flat("gone.png 不存在（或既不是文件也不是文件夹）") in flat(out)


def test_a_bad_date_is_reported_in_chinese(archive_path: Path) -> None:
    run("init", archive=archive_path)
    out = run("search", "逾期", "--since", "31/01/2024", archive=archive_path, code=2)
    assert flat("无法识别日期 '31/01/2024'：请使用 YYYY-MM-DD 格式") in flat(out)


def test_an_unknown_case_is_reported_in_chinese(archive_path: Path) -> None:
    run("case", "new", "Lender X", "-c", "lenderx.com", archive=archive_path)
    out = flat(run("export", "lender-y", archive=archive_path, code=2))
    assert flat("没有 'lender-y' 这个案件；现有案件：lender-x") in out
    out = flat(run("case", "show", "nothing-here", archive=archive_path, code=2))
    assert flat("没有 'nothing-here' 这个案件") in out


def _encrypted_pdf(tmp_path: Path, password: str) -> Path:
    writer = PdfWriter(
        clone_from=PdfReader(FIXTURES / "documents" / "loan-agreement-2024-03-15.pdf")
    )
    writer.encrypt(password, algorithm="AES-256")
    target = tmp_path / "locked-agreement.pdf"
    with target.open("wb") as f:
        writer.write(f)
    return target


def test_a_wrong_pdf_password_is_reported_in_chinese_and_reindex_still_finds_the_pdf(
    tmp_path: Path, archive_path: Path
) -> None:
    pdf = _encrypted_pdf(tmp_path, "right-password")
    out = run("import", "pdf", str(pdf), archive=archive_path, code=1)
    assert "已加密：需要密码" in out
    out = run(
        "import", "pdf", str(pdf), archive=archive_path, code=0,
        EVIDENCE_PDF_PASSWORD="wrong-password",
    )  # fmt: skip
    report = json.loads(
        run("reindex", "--json", archive=archive_path, code=1, EVIDENCE_PDF_PASSWORD="nope")
    )
    assert "已加密：所给的密码不正确" in json.dumps(report, ensure_ascii=False)
    # The reason was stored in Chinese; an English reindex still knows the PDF is encrypted.
    english = run(
        "reindex", archive=archive_path, EVIDENCE_LANG="en", EVIDENCE_PDF_PASSWORD="right-password"
    )
    assert "Filled in text for 0 attachment(s) and 1 document(s)" in english


def test_a_wrong_imap_password_is_reported_in_chinese(imap_user: ImapUser) -> None:
    result = CliRunner().invoke(
        app,
        ["imap", "login", "--host", HOST, "--user", imap_user.name,
         "--port", str(imap_user.server.imaps_port), "--ca-file", str(imap_user.server.ca_file)],
        input="not-the-password\n",
        env=ZH,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    out = flat(result.output)
    assert flat(f"{HOST} 拒绝了 {imap_user.name} 的登录（服务器回复：") in out
    assert flat("请检查密码（来自输入提示）") in out
    assert "授权码" in out
    assert "IMAP密码" in out  # the prompt itself


# -- summaries, plurals, dates, JSON -------------------------------------------------------------


def test_summaries_count_right_in_both_languages(archive_path: Path) -> None:
    run("init", archive=archive_path)
    mail = FIXTURES / "demo"
    mbox = next(mail.rglob("*.mbox"))
    zh = run("import", "mbox", str(mbox), archive=archive_path, EVIDENCE_TZ="Asia/Shanghai")
    assert re.search(r"从.*新导入\d+个条目", flat(zh)), zh
    run("case", "new", "Lender X", archive=archive_path)
    assert "已把 1 个条目关联到 lender-x。" in run(
        "case", "link", "lender-x", "1", archive=archive_path
    )
    en = run("case", "link", "lender-x", "1", "2", archive=archive_path, EVIDENCE_LANG="en")
    assert "Linked 1 item to lender-x." in en  # 1 was linked already
    en = run("case", "unlink", "lender-x", "1", "2", archive=archive_path, EVIDENCE_LANG="en")
    assert "Took 2 items out of lender-x." in en


def test_times_read_as_chinese_dates_in_the_users_zone(archive_path: Path) -> None:
    run("import", "mbox", str(next((FIXTURES / "demo").rglob("*.mbox"))), archive=archive_path)
    out = run("timeline", archive=archive_path, EVIDENCE_TZ="Asia/Shanghai", COLUMNS="200")
    assert re.search(r"20\d\d年\d{1,2}月\d{1,2}日 \d\d:\d\d CST", out), out
    assert "时间线" in out
    en = run("timeline", archive=archive_path, EVIDENCE_LANG="en", COLUMNS="200")
    assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d", en)


def test_json_keys_stay_english_and_prose_values_follow_the_language(
    tmp_path: Path, archive_path: Path
) -> None:
    bad = tmp_path / "empty.eml"
    bad.write_bytes(b"")
    zh = json.loads(run("import", "eml", str(bad), "--json", archive=archive_path, code=1))
    en = json.loads(
        run(
            "import",
            "eml",
            str(bad),
            "--json",
            archive=tmp_path / "en.db",
            code=1,
            EVIDENCE_LANG="en",
        )
    )
    assert set(zh) == set(en)
    assert zh["errors"][0]["reason"] == "原样保存，未解析：空文件"
    assert en["errors"][0]["reason"] == "kept unparsed: empty file"
    status_zh = json.loads(run("status", "--json", archive=archive_path))
    status_en = json.loads(run("status", "--json", archive=archive_path, EVIDENCE_LANG="en"))
    assert set(status_zh) == set(status_en)


def test_the_installed_command_speaks_chinese_from_the_locale(tmp_path: Path) -> None:
    """A subprocess, as a user runs it: LANG alone chooses Chinese, EVIDENCE_LANG overrides."""
    env = {k: v for k, v in os.environ.items() if k not in ("EVIDENCE_LANG", "LC_ALL")}
    env.update(LANG="zh_CN.UTF-8", COLUMNS="80", EVIDENCE_ARCHIVE=str(tmp_path / "a.db"))
    command = [sys.executable, "-m", "evidence_archiver"]
    zh = subprocess.run([*command, "status"], env=env, capture_output=True, text=True, check=False)
    assert zh.returncode == 2
    assert "处没有档案库" in zh.stderr + zh.stdout
    usage = subprocess.run(
        [*command, "import", "mbox"], env=env, capture_output=True, text=True, check=False
    )
    assert usage.returncode == 2
    assert "缺少参数 'path'。" in usage.stderr
    env["EVIDENCE_LANG"] = "en"
    en = subprocess.run([*command, "status"], env=env, capture_output=True, text=True, check=False)
    assert "no archive at" in en.stderr + en.stdout


# -- key facts, IMAP providers, call recordings ----------------------------------------------------


def test_key_facts_speak_chinese_with_chinese_dates(archive_path: Path) -> None:
    from evidence_archiver.archive import Archive
    from test_facts import MESSAGES, capture

    with Archive(archive_path) as archive:
        archive.ingest(
            [capture(n, *m) for n, m in enumerate(MESSAGES)], connector="eml", container="t"
        )
        archive.create_case("LenderX", slug="lenderx", rules=[("domain", "lenderx.com")])
        ids = [int(i) for (i,) in archive.conn.execute("SELECT id FROM items ORDER BY id")]
    out = flat(run("fact", "add", str(ids[0]), "--text", "x", archive=archive_path, code=2))
    assert flat("请用 --kind 说明事实的类型") in out
    out = flat(
        run("fact", "add", str(ids[0]), "--kind", "promise", "--text", "同意顺延",
            "--amount", "12..3", archive=archive_path, code=2)
    )  # fmt: skip
    assert flat("无法识别金额 '12..3'") in out
    out = run(
        "fact", "add", str(ids[0]), "--kind", "promise", "--text", "同意第4至6期顺延三个月",
        "--due", "2024-10-15", archive=archive_path,
    )  # fmt: skip
    assert flat("已记录事实 1（承诺），属于 lenderx，引用条目") in flat(out)
    listed = run("fact", "list", "lenderx", archive=archive_path)
    assert max(cell_len(line) for line in listed.splitlines()) <= 80, listed
    assert "2024年7月3日" in listed
    assert flat("2024年10月15日 到期") in flat(listed)
    assert flat("可能违反事实 1") in flat(listed)  # the 3 August late fee, before the due date
    suggested = run("fact", "suggest", "lenderx", archive=archive_path)
    assert "条建议" in suggested
    assert english_sentences(suggested.replace("evidence fact", "")) == [], suggested
    json_zh = json.loads(run("fact", "list", "lenderx", "--json", archive=archive_path))
    assert json_zh["facts"][0]["kind"] == "promise"  # --json keeps the stored word


def test_provider_login_advice_and_imap_refusals_are_chinese(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from evidence_archiver.connectors import imap_auth
    from evidence_archiver.connectors.imap import (
        login_refused_message,
        resolve_account,
        unsafe_login_message,
    )

    monkeypatch.setenv("EVIDENCE_LANG", "zh_CN")
    account = resolve_account("wang@163.com")
    said = "NO [AUTHENTICATIONFAILED] Invalid login"
    refused = login_refused_message(account, imap_auth.Password("x", "keyring"), said)
    assert "imap.163.com 拒绝了 wang@163.com 的登录" in refused
    assert "网易163邮箱的 IMAP 不接受网页登录密码，需要使用授权码" in refused
    assert "密码来自系统密钥环" in refused
    assert "--provider 163 --user wang@163.com" in refused
    unsafe = unsafe_login_message(account, "INBOX", "NO EXAMINE Unsafe Login")
    assert "网易邮箱" in unsafe
    assert "IMAP ID" in unsafe
    out = run("imap", "logout", "--user", "someone@unknown-domain.example", code=2)
    assert flat("无法确定 someone@unknown-domain.example 在哪个 IMAP 服务器上") in flat(out)
    out = run("imap", "logout", "--user", "a@b.example", "--provider", "nope", code=2)
    assert flat("没有名为 'nope' 的邮箱服务商") in flat(out)


def test_call_recording_problems_are_chinese(tmp_path: Path, archive_path: Path) -> None:
    folder = tmp_path / "MIUI" / "sound_recorder" / "call_rec"
    folder.mkdir(parents=True)
    (folder / "乐贷(13800138000)_20241345140210.mp3").write_bytes(b"not sound at all")
    out = json.loads(run("import", "file", str(folder), "--json", archive=archive_path, code=1))
    reason = out["errors"][0]["reason"]
    assert "不是可读取的音频文件" in reason
    assert "小米（MIUI/HyperOS）手机的通话录音" in reason
    out = run("import", "file", str(folder), "--tz", "Mars/Base", archive=archive_path, code=2)
    assert flat("无法识别时区 'Mars/Base'") in flat(out)
