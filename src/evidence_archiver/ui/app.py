"""The review app's routes: server-rendered pages over the same library calls as the CLI.

Built on Starlette (a small, typed, well-kept ASGI toolkit; routing, forms and a test client,
nothing more) with Jinja2 templates, served by uvicorn. The pages use no JavaScript at all:
forms post and redirect, the export page refreshes itself while the bundle is written, and a
bundle to verify is dropped onto a file field. Static files (one stylesheet) are read from
the package once at start-up and served from memory, and every id in an address is an
integer, a case's short name or a job id, looked up in the archive or in the app's own
tables: no part of a request is ever used as a path.

Mail is shown as the text the importer extracted from it; its HTML is never rendered. An
original or an attachment is only ever downloaded (``Content-Disposition: attachment``, as
``application/octet-stream``), never displayed by the app's origin. Thumbnails are re-encoded
PNGs made by Pillow.

A case's Key facts page lists its facts, the possible breaches of its promises and the
suggestions still to decide (accepted as found or corrected, or rejected); a fact is recorded
from an item's page, and changed or removed on the Key facts page. Every change is a library
call (``add_fact``, ``edit_fact``, ``remove_fact``, ``accept_suggestion``,
``reject_suggestion``), so each leaves the custody event the library writes, and the rules
(a fact cites items of its own case only) are the library's; the app checks them first only
to say so in the user's language.

See :mod:`.security` for the guard in front of all of this.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from ..archive import Archive, FactFields, FactRecord
from ..archive.cases import rule_from_counterparty
from ..archive.facts import amount_value, currency_code
from ..archive.timeutil import parse_user_date
from ..errors import EvidenceError, NotFound, UsageError
from ..i18n import _
from .security import MAX_UPLOAD, BodyTooLarge, Guard, csrf_token, same_secret
from .templating import language, make_environment
from .work import ArchiveWorker, ExportJobs

T = TypeVar("T")
PAGE = 50
SEARCH_PAGE = 20
THUMBNAIL_MAX_BYTES = 40 * 1024 * 1024
KINDS = ("email", "sms", "mms", "call", "chat", "document", "file")
FACT_KINDS = ("promise", "demand", "payment", "breach", "other")
# A suggestion's id as ``fact suggest`` prints it (``s42-1a2b3c4d``): anything else is no page.
SUGGESTION_ID = re.compile(r"s\d{1,12}-[0-9a-f]{8}")
SUGGESTIONS_SHOWN = 100


@dataclass
class UiConfig:
    """What the app serves and how. ``port`` is the one the server listens on (the Host check
    needs it); ``secret`` is the token of the first URL (random unless given, for tests)."""

    archive: Path
    port: int
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    work_folder: Path | None = None
    max_upload: int = MAX_UPLOAD
    clock: Callable[[], datetime] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.secret}"


def create_app(config: UiConfig) -> Starlette:
    """The ASGI app for one archive (which must exist), wrapped in its :class:`Guard`."""
    Archive(config.archive, create=False).close()  # fail now, with the CLI's message
    env = make_environment()
    csrf = csrf_token(config.secret)
    static = _load_static()
    worker = ArchiveWorker(config.archive, config.clock)
    work_folder = Path(tempfile.mkdtemp(prefix="evidence-ui-", dir=config.work_folder))
    jobs = ExportJobs(config.archive, work_folder / "exports", config.clock)

    def page(
        request: Request, template: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        html = env.get_template(template).render(
            request=request, csrf=csrf, path=request.url.path, lang=language(), **context
        )
        return HTMLResponse(html, status_code=status_code)

    async def form(request: Request) -> FormData:
        """The posted form, once its CSRF token is checked."""
        data = await request.form(max_files=0, max_fields=20)
        token = data.get("csrf")
        if not isinstance(token, str) or not same_secret(token, csrf):
            raise HTTPException(403, _("This form has expired: go back, reload and try again."))
        return data

    def field_(data: FormData, name: str) -> str:
        value = data.get(name)
        return value.strip() if isinstance(value, str) else ""

    def int_field(data: FormData, name: str) -> int:
        value = field_(data, name)
        if not value.isdigit():
            raise HTTPException(400, _("A number was expected."))
        return int(value)

    def back(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)

    # -- overview ------------------------------------------------------------------------------

    async def overview(request: Request) -> Response:
        def read(a: Archive) -> dict[str, Any]:
            def counts() -> dict[str, Any]:
                kinds = a.kind_counts()
                runs = a.imports(limit=100)
                return {
                    "total": sum(kinds.values()),
                    "kinds": kinds,
                    "interrupted": sum(1 for r in runs if r.status == "interrupted"),
                    "cases": a.cases(),
                }

            return {
                **worker.cached(a, "overview", counts),
                "sources": a.import_sources(),
                "failures": a.import_failures(limit=20),
            }

        return page(request, "overview.html", **await worker.run(read))

    # -- cases ---------------------------------------------------------------------------------

    async def cases(request: Request) -> Response:
        return page(request, "cases.html", cases=await worker.run(lambda a: a.cases()), error="")

    async def case_new(request: Request) -> Response:
        data = await form(request)
        title = field_(data, "title")
        counterparties = [v for v in field_(data, "counterparties").splitlines() if v.strip()]
        try:
            rules = [rule_from_counterparty(v.strip()) for v in counterparties]
            slug, _rules = await worker.run(lambda a: a.create_case(title, rules=rules))
        except UsageError as exc:
            all_cases = await worker.run(lambda a: a.cases())
            return page(request, "cases.html", status_code=400, cases=all_cases, error=str(exc))
        return back(f"/cases/{quote(slug)}")

    async def case_page(request: Request) -> Response:
        slug = request.path_params["slug"]
        offset = _page_offset(request, PAGE)

        def read(a: Archive) -> dict[str, Any]:
            summary = worker.cached(a, ("case", slug), lambda: a.case(slug))
            order = worker.cached(
                a, ("timeline", slug, None, None, None), lambda: a.timeline_ids(slug)
            )
            ids = order[offset : offset + PAGE + 1]
            return {
                "case": summary,
                "items": [a.item(i) for i in ids[:PAGE]],
                "more": len(ids) > PAGE,
                "offset": offset,
            }

        return page(request, "case.html", **await _or_404(worker.run(read)), error="")

    async def case_rule_add(request: Request) -> Response:
        slug = request.path_params["slug"]
        data = await form(request)
        value = field_(data, "value")
        kind = field_(data, "kind")
        try:
            rule = ("keyword", value) if kind == "keyword" else rule_from_counterparty(value)
            await _or_404(worker.run(lambda a: a.add_case_rules(slug, [rule])))
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from exc
        return back(f"/cases/{quote(slug)}")

    async def case_rule_remove(request: Request) -> Response:
        slug = request.path_params["slug"]
        data = await form(request)
        kind, value = field_(data, "kind"), field_(data, "value")
        try:
            await _or_404(worker.run(lambda a: a.remove_case_rule(slug, kind, value)))
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from exc
        return back(f"/cases/{quote(slug)}")

    async def case_link(request: Request) -> Response:
        slug = request.path_params["slug"]
        data = await form(request)
        item_id = int_field(data, "item")
        await _or_404(worker.run(lambda a: a.link(slug, [item_id])))
        return back(_return_to(data, f"/items/{item_id}"))

    async def case_unlink(request: Request) -> Response:
        slug = request.path_params["slug"]
        data = await form(request)
        item_id = int_field(data, "item")
        await _or_404(worker.run(lambda a: a.unlink(slug, [item_id])))
        return back(_return_to(data, f"/cases/{quote(slug)}"))

    async def timeline(request: Request) -> Response:
        slug = request.path_params["slug"]
        q = request.query_params
        kind = q.get("kind") or None
        if kind is not None and kind not in KINDS:
            kind = None
        since_text, until_text = q.get("since", ""), q.get("until", "")
        offset = _page_offset(request, PAGE)
        error = ""
        try:
            since = parse_user_date(since_text) if since_text else None
            until = parse_user_date(until_text, end_of_day=True) if until_text else None
        except UsageError as exc:
            since = until = None
            error = str(exc)

        def read(a: Archive) -> dict[str, Any]:
            order = worker.cached(
                a,
                ("timeline", slug, kind, since, until),
                lambda: a.timeline_ids(slug, kind=kind, since=since, until=until),
            )
            ids = order[offset : offset + PAGE + 1]
            return {
                "case": worker.cached(a, ("case", slug), lambda: a.case(slug)),
                "items": [a.item(i) for i in ids[:PAGE]],
                "more": len(ids) > PAGE,
            }

        filters = {"kind": kind or "", "since": since_text, "until": until_text}
        return page(
            request,
            "timeline.html",
            **await _or_404(worker.run(read)),
            filters=filters,
            kinds=KINDS,
            offset=offset,
            page_query=_page_query(filters),
            error=error,
        )

    # -- search --------------------------------------------------------------------------------

    async def search(request: Request) -> Response:
        q = request.query_params
        query = q.get("q", "").strip()
        case = q.get("case") or None
        kind = q.get("kind") or None
        if kind is not None and kind not in KINDS:
            kind = None
        tag = q.get("tag", "").strip() or None
        since_text, until_text = q.get("since", ""), q.get("until", "")
        offset = _page_offset(request, SEARCH_PAGE)
        filters = {
            "q": query,
            "case": case or "",
            "kind": kind or "",
            "tag": tag or "",
            "since": since_text,
            "until": until_text,
        }

        def read(a: Archive) -> dict[str, Any]:
            found: dict[str, Any] = {
                "cases": a.case_names(),
                "hits": [],
                "more": False,
                "error": "",
            }
            if not query:
                return found
            try:
                hits = a.search(
                    query,
                    case=case,
                    kind=kind,
                    tag=tag,
                    since=parse_user_date(since_text) if since_text else None,
                    until=parse_user_date(until_text, end_of_day=True) if until_text else None,
                    limit=SEARCH_PAGE + 1,
                    offset=offset,
                )
            except EvidenceError as exc:
                found["error"] = str(exc)
                return found
            found["hits"], found["more"] = hits[:SEARCH_PAGE], len(hits) > SEARCH_PAGE
            return found

        return page(
            request,
            "search.html",
            **await worker.run(read),
            filters=filters,
            kinds=KINDS,
            offset=offset,
            page_query=_page_query(filters),
        )

    # -- items ---------------------------------------------------------------------------------

    async def item_page(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]

        def read(a: Archive) -> dict[str, Any]:
            item = a.item(item_id)
            sha = item.original_sha256 or item.container_sha256
            info = a.original_info(sha) if sha else None
            return {
                "item": item,
                "original": info,
                "own_original": item.original_sha256 is not None,
                "cases": a.case_names(),
                "facts": a.facts_citing(item_id),
                # Found through the custody log's index on subject (schema v8).
                "custody": list(a.custody.events_about(f"item:{item_id}")),
            }

        data = await _or_404(worker.run(read))
        return page(request, "item.html", **data, tables=_tables(data["item"].details))

    async def item_custody(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]

        def read(a: Archive) -> dict[str, Any]:
            # The item page shows these too; this page is the record alone, to print or keep.
            return {
                "item": a.item(item_id),
                "custody": list(a.custody.events_about(f"item:{item_id}")),
            }

        return page(request, "custody.html", **await _or_404(worker.run(read)))

    async def item_original(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]

        def read(a: Archive) -> tuple[str, Any]:
            item = a.item(item_id)
            sha = item.original_sha256 or item.container_sha256
            if sha is None:
                raise NotFound("this item has no original of its own")
            return _download_name(item.id, sha, a.original_info(sha).media_type), _spool(a, sha)

        name, body = await _or_404(worker.run(read))
        return _attachment_response(body, name)

    async def attachment(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]
        attachment_id: int = request.path_params["attachment_id"]

        def read(a: Archive) -> tuple[str, Any]:
            found = _find_attachment(a, item_id, attachment_id)
            return found.filename or f"attachment-{found.id}", _spool(a, found.sha256)

        name, body = await _or_404(worker.run(read))
        return _attachment_response(body, name)

    async def thumbnail(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]
        attachment_id: int | None = request.path_params.get("attachment_id")

        def read(a: Archive) -> bytes:
            from ..extract.files import thumbnail_png

            if attachment_id is None:
                item = a.item(item_id)
                sha = item.original_sha256
                if sha is None:
                    raise NotFound("no original")
                info = a.original_info(sha)
                media_type, size = info.media_type, info.size
            else:
                found = _find_attachment(a, item_id, attachment_id)
                sha, media_type, size = found.sha256, found.media_type, found.size
            if not media_type.startswith("image/") or size > THUMBNAIL_MAX_BYTES:
                raise NotFound("no picture")
            try:
                return thumbnail_png(a.read_original(sha), 480)
            except Exception as exc:  # noqa: BLE001 - any undecodable image is just not shown
                raise NotFound("the picture cannot be read") from exc

        png = await _or_404(worker.run(read))
        return Response(png, media_type="image/png")

    async def tag_add(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]
        data = await form(request)
        tag = field_(data, "tag")
        try:
            await _or_404(worker.run(lambda a: _then(a, a.tag(item_id, tag), worker.still_valid)))
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from exc
        return back(f"/items/{item_id}")

    async def tag_remove(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]
        data = await form(request)
        tag = field_(data, "tag")
        await _or_404(worker.run(lambda a: _then(a, a.untag(item_id, tag), worker.still_valid)))
        return back(f"/items/{item_id}")

    async def note_add(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]
        data = await form(request)
        text = field_(data, "text")
        try:
            note = worker.run(lambda a: _then(a, a.add_note(item_id, text), worker.still_valid))
            await _or_404(note)
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from exc
        return back(f"/items/{item_id}")

    # -- key facts -----------------------------------------------------------------------------

    def fact_form(data: FormData) -> dict[str, Any]:
        """The fields of a fact form, checked and converted (400 with a plain reason)."""
        kind = field_(data, "kind")
        if kind not in FACT_KINDS:
            raise HTTPException(400, _("Choose what kind of fact this is."))
        due_text, amount_text = field_(data, "due"), field_(data, "amount")
        currency = field_(data, "currency")
        due: date | None = None
        if due_text:
            try:
                due = date.fromisoformat(due_text)
            except ValueError:
                raise HTTPException(
                    400,
                    _("Cannot read the date “{text}”: write it as 2024-10-15.").format(
                        text=due_text
                    ),
                ) from None
        amount: Decimal | None = None
        if amount_text:
            try:
                amount = amount_value(amount_text)
            except UsageError:
                raise HTTPException(
                    400,
                    _("Cannot read the amount “{text}”: write it in digits, e.g. 5265.76.").format(
                        text=amount_text
                    ),
                ) from None
        if currency and amount is None:
            raise HTTPException(400, _("A currency needs an amount."))
        try:
            currency = currency_code(currency) if currency else ""
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from exc
        return {
            "kind": kind,
            "text": field_(data, "text"),
            "due": due,
            "amount": amount,
            "currency": currency or None,
            "by": field_(data, "by"),
        }

    def not_in_case(item_id: int, slug: str) -> HTTPException:
        return HTTPException(
            400,
            _(
                "Item #{item} is not in the case “{case}”: a fact can only cite items of "
                "its own case. Add the item to that case first."
            ).format(item=item_id, case=slug),
        )

    async def facts_page(request: Request) -> Response:
        slug = request.path_params["slug"]

        def read(a: Archive) -> dict[str, Any]:
            summary = worker.cached(a, ("case", slug), lambda: a.case(slug))
            facts = a.facts(slug)
            conflicts = a.fact_conflicts(slug)
            # Finding suggestions reads the items' text: only as many as the page shows, and
            # once per change of the archive.
            found = worker.cached(
                a,
                ("suggestions", slug),
                lambda: a.suggest_facts(slug, limit=SUGGESTIONS_SHOWN + 1),
            )
            shown = found[:SUGGESTIONS_SHOWN]
            cited = {i for f in facts for i in f.items}
            cited |= {i for c in conflicts for i in (c.item, *c.promise_items)}
            cited |= {s.item for s in shown}
            return {
                "case": summary,
                "facts": facts,
                "by_id": {f.id: f for f in facts},
                "conflicts": conflicts,
                "suggestions": shown,
                "more_suggestions": len(found) > len(shown),
                "items": {i: a.item(i) for i in sorted(cited)},
            }

        return page(request, "facts.html", **await _or_404(worker.run(read)))

    async def suggestion_decide(request: Request, accept: bool) -> Response:
        slug = request.path_params["slug"]
        sid = request.path_params["sid"]
        if not SUGGESTION_ID.fullmatch(sid):
            raise HTTPException(404, _("Not found."))
        data = await form(request)
        kind = field_(data, "kind") or None
        text = field_(data, "text") or None
        if kind is not None and kind not in FACT_KINDS:
            raise HTTPException(400, _("Choose what kind of fact this is."))

        def decide(a: Archive) -> None:
            if a.suggestion(sid).case != slug:
                raise NotFound(f"no suggestion {sid} in the case {slug}")
            if accept:
                a.accept_suggestion(sid, FactFields(kind=kind, text=text))
            else:
                a.reject_suggestion(sid)

        try:
            await _or_404(worker.run(decide))
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from exc
        return back(f"/cases/{quote(slug)}/facts")

    async def suggestion_accept(request: Request) -> Response:
        return await suggestion_decide(request, True)

    async def suggestion_reject(request: Request) -> Response:
        return await suggestion_decide(request, False)

    async def fact_add(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]
        data = await form(request)
        slug = field_(data, "case")
        values = fact_form(data)
        if not values["text"]:
            raise HTTPException(400, _("Write what the item shows."))

        def add(a: Archive) -> FactRecord:
            if slug not in a.item(item_id).cases:
                a.case(slug)  # an unknown case is a 404
                raise not_in_case(item_id, slug)
            return a.add_fact([item_id], FactFields(**values), case=slug)

        try:
            await _or_404(worker.run(add))
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from exc
        return back(f"/cases/{quote(slug)}/facts")

    async def fact_edit(request: Request) -> Response:
        slug = request.path_params["slug"]
        fact_id: int = request.path_params["fact_id"]
        data = await form(request)
        values = fact_form(data)
        if not values["text"]:
            raise HTTPException(400, _("A fact's text cannot be empty."))
        cites_text = field_(data, "cites")
        cites = [int(n) for n in re.findall(r"\d{1,12}", cites_text)]
        if (cites_text and not cites) or re.sub(r"[\d\s,，#、]", "", cites_text):
            raise HTTPException(400, _("List the items it cites by number, e.g. 11, 23."))

        def edit(a: Archive) -> None:
            fact = a.fact(fact_id)
            if fact.case != slug:
                raise NotFound(f"no fact {fact_id} in the case {slug}")
            changed, clear = _fact_changes(fact, values)
            items = list(dict.fromkeys(cites)) if cites else list(fact.items)
            new_items = items if tuple(items) != fact.items else None
            for item_id in new_items or ():
                if item_id not in fact.items and slug not in a.item(item_id).cases:
                    raise not_in_case(item_id, slug)
            if changed or clear or new_items is not None:
                a.edit_fact(fact_id, FactFields(**changed), items=new_items, clear=clear)

        try:
            await _or_404(worker.run(edit))
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from exc
        return back(f"/cases/{quote(slug)}/facts")

    async def fact_remove(request: Request) -> Response:
        slug = request.path_params["slug"]
        fact_id: int = request.path_params["fact_id"]
        await form(request)

        def remove(a: Archive) -> None:
            if a.fact(fact_id).case != slug:
                raise NotFound(f"no fact {fact_id} in the case {slug}")
            a.remove_fact(fact_id)

        await _or_404(worker.run(remove))
        return back(f"/cases/{quote(slug)}/facts")

    # -- export and verify ---------------------------------------------------------------------

    async def export_start(request: Request) -> Response:
        slug = request.path_params["slug"]
        await form(request)
        await _or_404(worker.run(lambda a: a.case(slug)))
        job = jobs.start(slug)
        return back(f"/exports/{job.id}")

    async def export_page(request: Request) -> Response:
        job = jobs.get(request.path_params["job_id"])
        if job is None:
            raise HTTPException(404, _("No such export."))
        return page(request, "export.html", job=job)

    async def export_download(request: Request) -> Response:
        job = jobs.get(request.path_params["job_id"])
        if job is None or job.state != "done" or job.path is None:
            raise HTTPException(404, _("This bundle is not ready."))
        return FileResponse(
            job.path,
            media_type="application/zip",
            filename=job.path.name,
            content_disposition_type="attachment",
        )

    async def verify_form(request: Request) -> Response:
        return page(request, "verify.html", report=None, error="", name="")

    async def verify_upload(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        from ..export import verify_bundle

        # The form's files are closed (and their temporary files removed) when it ends.
        async with request.form(max_files=1, max_fields=5) as data:
            token = data.get("csrf")
            if not isinstance(token, str) or not same_secret(token, csrf):
                raise HTTPException(403, _("This form has expired: go back, reload and try again."))
            upload = data.get("bundle")
            if not isinstance(upload, UploadFile) or not upload.filename:
                return page(
                    request, "verify.html", status_code=400, report=None, error="no-file", name=""
                )
            name = upload.filename

            def check() -> Any:
                # The upload goes to a private temporary file whose name the app chose.
                with tempfile.TemporaryDirectory(dir=work_folder) as folder:
                    target = Path(folder) / "bundle.zip"
                    with target.open("wb") as out:
                        upload.file.seek(0)
                        while chunk := upload.file.read(1 << 20):
                            out.write(chunk)
                    return verify_bundle(target)

            try:
                report = await run_in_threadpool(check)
            except EvidenceError as exc:
                return page(
                    request,
                    "verify.html",
                    status_code=400,
                    report=None,
                    error=str(exc),
                    name=name,
                )
        return page(request, "verify.html", report=report, error="", name=name)

    async def static_file(request: Request) -> Response:
        found = static.get(request.path_params["name"])
        if found is None:
            raise HTTPException(404, _("Not found."))
        media_type, body = found
        return Response(body, media_type=media_type, headers={"cache-control": "max-age=3600"})

    # -- errors --------------------------------------------------------------------------------

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return page(request, "error.html", status_code=exc.status_code, message=exc.detail)

    routes = [
        Route("/", overview),
        Route("/cases", cases),
        Route("/cases", case_new, methods=["POST"]),
        Route("/cases/{slug}", case_page),
        Route("/cases/{slug}/timeline", timeline),
        Route("/cases/{slug}/rules", case_rule_add, methods=["POST"]),
        Route("/cases/{slug}/rules/remove", case_rule_remove, methods=["POST"]),
        Route("/cases/{slug}/link", case_link, methods=["POST"]),
        Route("/cases/{slug}/unlink", case_unlink, methods=["POST"]),
        Route("/cases/{slug}/export", export_start, methods=["POST"]),
        Route("/cases/{slug}/facts", facts_page),
        Route("/cases/{slug}/facts/{fact_id:int}/edit", fact_edit, methods=["POST"]),
        Route("/cases/{slug}/facts/{fact_id:int}/remove", fact_remove, methods=["POST"]),
        Route("/cases/{slug}/suggestions/{sid}/accept", suggestion_accept, methods=["POST"]),
        Route("/cases/{slug}/suggestions/{sid}/reject", suggestion_reject, methods=["POST"]),
        Route("/search", search),
        Route("/items/{item_id:int}", item_page),
        Route("/items/{item_id:int}/custody", item_custody),
        Route("/items/{item_id:int}/original", item_original),
        Route("/items/{item_id:int}/thumbnail", thumbnail),
        Route("/items/{item_id:int}/attachments/{attachment_id:int}", attachment),
        Route("/items/{item_id:int}/attachments/{attachment_id:int}/thumbnail", thumbnail),
        Route("/items/{item_id:int}/tags", tag_add, methods=["POST"]),
        Route("/items/{item_id:int}/tags/remove", tag_remove, methods=["POST"]),
        Route("/items/{item_id:int}/notes", note_add, methods=["POST"]),
        Route("/items/{item_id:int}/facts", fact_add, methods=["POST"]),
        Route("/exports/{job_id}", export_page),
        Route("/exports/{job_id}/download", export_download),
        Route("/verify", verify_form),
        Route("/verify", verify_upload, methods=["POST"]),
        Route("/static/{name}", static_file),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        jobs.close()
        worker.close()
        shutil.rmtree(work_folder, ignore_errors=True)  # uploads and bundles not downloaded

    async def too_large(request: Request, exc: Exception) -> Response:
        return page(
            request, "error.html", status_code=413, message=_("What was sent is too large.")
        )

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error, BodyTooLarge: too_large},
        lifespan=lifespan,
    )
    app.state.jobs = jobs
    app.state.config = config
    guarded = Guard(
        app,
        secret=config.secret,
        port=config.port,
        upload_paths={"/verify"},
        max_upload=config.max_upload,
    )
    return guarded  # type: ignore[return-value]


def _fact_changes(fact: FactRecord, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What an edit form changes in ``fact``: the fields to set, and the ones emptied."""
    changed: dict[str, Any] = {}
    clear: list[str] = []
    if values["kind"] != fact.kind:
        changed["kind"] = values["kind"]
    if values["text"] != fact.text:
        changed["text"] = values["text"]
    if values["due"] != fact.due:
        if values["due"] is None:
            clear.append("due")
        else:
            changed["due"] = values["due"]
    if values["amount"] != fact.amount:
        if values["amount"] is None:
            clear.append("amount")  # its currency goes with it
        else:
            changed["amount"] = values["amount"]
    if values["amount"] is not None and values["currency"] != fact.currency:
        if values["currency"] is None:
            clear.append("currency")
        else:
            changed["currency"] = values["currency"]
    if values["by"] != (fact.by or ""):
        if values["by"]:
            changed["by"] = values["by"]
        else:
            clear.append("by")
    return changed, clear


def _then(archive: Archive, result: T, after: Callable[[Archive], None]) -> T:
    after(archive)
    return result


async def _or_404(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc


def _page_offset(request: Request, size: int) -> int:
    value = request.query_params.get("page", "1")
    number = int(value) if value.isdigit() and 0 < len(value) < 7 else 1
    return (max(number, 1) - 1) * size


def _page_query(filters: dict[str, str]) -> str:
    return urlencode({k: v for k, v in filters.items() if v})


def _return_to(data: FormData, default: str) -> str:
    """Where to go after a change: only a path of this app (never another site)."""
    value = data.get("next")
    # "//host" and "/\\host" lead browsers to another site; control characters split headers.
    if (
        isinstance(value, str)
        and value.startswith("/")
        and not value.startswith(("//", "/\\"))
        and value.isprintable()
    ):
        return value
    return default


def _find_attachment(a: Archive, item_id: int, attachment_id: int) -> Any:
    for found in a.item(item_id).attachments:
        if found.id == attachment_id:
            return found
    raise NotFound(f"item {item_id} has no attachment {attachment_id}")


def _spool(a: Archive, sha: str) -> BinaryIO:
    """An original copied out of the archive (on disk past 8 MiB), ready to send."""
    spool = tempfile.SpooledTemporaryFile(8 << 20)  # noqa: SIM115 - closed by the response
    a.copy_original(sha, spool)  # type: ignore[arg-type]
    spool.seek(0)
    return spool  # type: ignore[return-value]


def _download_name(item_id: int, sha: str, media_type: str) -> str:
    from ..export.exhibits import extension_for

    return f"item-{item_id}-{sha[:12]}{extension_for(media_type)}"


def _attachment_response(body: Any, name: str) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := body.read(1 << 20):
                yield chunk
        finally:
            body.close()

    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name
    )
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"content-disposition": disposition},
    )


def _tables(details: dict[str, Any]) -> list[dict[str, Any]]:
    """The tables a document's extractor found, as ``{"page": N, "rows": [[cell, …], …]}``."""
    found = details.get("tables")
    if not isinstance(found, list):
        return []
    tables = []
    for entry in found:
        rows = entry.get("rows") if isinstance(entry, dict) else None
        if isinstance(rows, list) and rows:
            tables.append(
                {
                    "page": entry.get("page"),
                    "rows": [[str(c or "") for c in row] for row in rows if isinstance(row, list)],
                }
            )
    return tables


def _static_names() -> dict[str, str]:
    return {"style.css": "text/css; charset=utf-8"}


def _load_static() -> dict[str, tuple[str, bytes]]:
    folder = resources.files("evidence_archiver.ui") / "static"
    return {
        name: (media_type, (folder / name).read_bytes())
        for name, media_type in _static_names().items()
    }
