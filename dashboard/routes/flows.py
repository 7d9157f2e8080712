"""Call flows for admins: each flow drawn as a graph; edit the YAML with the checks of
`ivr flows check` shown before saving and a diff to confirm; atomic save; kept versions restorable.

A FlowFileError (unknown flow, bad name, stale version, overrun check) is answered with its status
by the one handler in dashboard.app; only the save form catches it, to show the editor again."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel
from starlette.responses import Response

from dashboard.deps import AdminSession, Services, Svc, check_csrf, render
from dashboard.flowfiles import CheckResult, FlowFileError, FlowFiles, text_version
from dashboard.flowgraph import render_svg
from ivr import keys
from ivr.callflow.issues import FlowIssue

EditText = Annotated[str, Form()]


def flow_files(svc: Services) -> FlowFiles:
    ff: FlowFiles = svc.extra["flows"]
    return ff


async def _saved_check(ff: FlowFiles, name: str) -> CheckResult:
    """The saved file's check for listings and the editor; an overrun check shows as its one issue."""
    try:
        return await ff.check_saved_async(name)
    except FlowFileError as exc:
        if exc.status != 422:
            raise
        return CheckResult([FlowIssue(str(ff.flows_dir / f"{name}.yaml"), None, None, None, str(exc))])


def _issues(result: CheckResult) -> list[dict[str, Any]]:
    return [{**asdict(i), "text": str(i)} for i in result.issues]


async def _editor(request: Request, svc: Services, name: str, *, text: str | None = None,
                  base_version: str | None = None, result: CheckResult | None = None, error: str = "",
                  status: int = 200, saved: str = "") -> Response:
    ff = flow_files(svc)
    saved_text = ff.read(name)
    saved_check = await _saved_check(ff, name)
    reload_error = await svc.redis.get(keys.flow_error(name))
    return render(
        request, "flow.html", status_code=status, name=name, text=saved_text if text is None else text,
        base_version=base_version or text_version(saved_text), saved_version=text_version(saved_text),
        graph=render_svg(saved_check.flow) if saved_check.flow else "", saved_issues=_issues(saved_check),
        issues=_issues(result) if result else [], error=error, history=ff.history(name),
        reload_error=reload_error, saved=saved,
    )


async def _review(request: Request, svc: Services, name: str, text: str, base_version: str,
                  restored_from: str = "") -> Response:
    ff = flow_files(svc)
    result = await ff.check_text_async(name, text)
    diff = ff.diff(name, text)
    if not result.ok:
        return await _editor(request, svc, name, text=text, base_version=base_version, result=result,
                             error="Not saved: fix the errors below first.", status=400)
    return render(request, "flow_review.html", name=name, text=text, base_version=base_version,
                  diff=diff, issues=_issues(result), restored_from=restored_from,
                  graph=render_svg(result.flow) if result.flow else "")


class FlowCheckIn(BaseModel):
    text: str


class FlowSaveIn(BaseModel):
    text: str
    base_version: str  # the version the edit started from (GET /api/flows/{name}); a later save wins nothing
    restored_from: str = ""  # id of a kept version when restoring one


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/flows", include_in_schema=False)
    async def flows_page(request: Request, svc: Svc, session: AdminSession) -> Response:
        ff = flow_files(svc)
        rows = []
        for name in ff.names():
            check = await _saved_check(ff, name)
            rows.append({"name": name, "version": text_version(ff.read(name)), "errors": len(check.errors),
                         "nodes": len(check.flow.nodes) if check.flow else None})
        return render(request, "flows.html", flows=rows, flows_dir=str(ff.flows_dir))

    @router.get("/flows/{name}", include_in_schema=False)
    async def flow_page(name: str, request: Request, svc: Svc, session: AdminSession, saved: str = "") -> Response:
        return await _editor(request, svc, name, saved=saved[:20])

    @router.post("/flows/{name}/review", include_in_schema=False, dependencies=[Depends(check_csrf)])
    async def review(name: str, request: Request, svc: Svc, session: AdminSession,
                     text: EditText, base_version: EditText) -> Response:
        return await _review(request, svc, name, text.replace("\r\n", "\n"), base_version)

    @router.post("/flows/{name}/restore", include_in_schema=False, dependencies=[Depends(check_csrf)])
    async def restore(name: str, request: Request, svc: Svc, session: AdminSession,
                      entry: EditText, base_version: EditText) -> Response:
        text = flow_files(svc).old_version(name, entry)
        return await _review(request, svc, name, text, base_version, restored_from=entry)

    @router.post("/flows/{name}/save", include_in_schema=False, dependencies=[Depends(check_csrf)])
    async def save(name: str, request: Request, svc: Svc, session: AdminSession, text: EditText,
                   base_version: EditText, restored_from: Annotated[str, Form()] = "") -> Response:
        text = text.replace("\r\n", "\n")
        try:
            version, result = await flow_files(svc).save(name, text, base_version)
        except FlowFileError as exc:
            return await _editor(request, svc, name, text=text, base_version=base_version,
                                 error=str(exc), status=exc.status)
        if not version:
            return await _editor(request, svc, name, text=text, base_version=base_version, result=result,
                                 error="Not saved: fix the errors below first.", status=400)
        await svc.audit.record(session.user, session.role, "flow_restore" if restored_from else "flow_save",
                               name, old_version=base_version, new_version=version,
                               restored_from=restored_from or None)
        return RedirectResponse(f"/flows/{name}?saved={version}", status_code=303)

    @router.get("/api/flows", tags=["flows"], summary="Flow files with their version and error count (admins)")
    async def api_flows(svc: Svc, session: AdminSession) -> list[dict[str, Any]]:
        ff = flow_files(svc)
        out = []
        for name in ff.names():
            check = await _saved_check(ff, name)
            out.append({"name": name, "version": text_version(ff.read(name)), "ok": check.ok,
                        "issues": _issues(check)})
        return out

    @router.post("/api/flows/{name}/check", tags=["flows"], dependencies=[Depends(check_csrf)],
                 summary="Check an edited flow text like `ivr flows check` (nothing is saved)")
    async def api_check(name: str, body: FlowCheckIn, svc: Svc, session: AdminSession) -> dict[str, Any]:
        result = await flow_files(svc).check_text_async(name, body.text)
        return {"ok": result.ok, "issues": _issues(result)}

    @router.get("/api/flows/{name}", tags=["flows"], summary="A flow's text, version, issues and kept versions")
    async def api_flow(name: str, svc: Svc, session: AdminSession) -> dict[str, Any]:
        ff = flow_files(svc)
        text, check = ff.read(name), await _saved_check(ff, name)
        return {"name": name, "text": text, "version": text_version(text), "ok": check.ok,
                "issues": _issues(check),
                "history": [{"id": h.id, "at": h.at, "version": h.version} for h in ff.history(name)]}

    @router.put("/api/flows/{name}", tags=["flows"], dependencies=[Depends(check_csrf)],
                summary="Save a flow (atomic, version kept); refused with its issues if it has any error")
    async def api_save(name: str, body: FlowSaveIn, svc: Svc, session: AdminSession) -> Response:
        version, result = await flow_files(svc).save(name, body.text, body.base_version)
        if not version:
            return JSONResponse({"saved": False, "issues": _issues(result)}, status_code=400)
        await svc.audit.record(session.user, session.role, "flow_restore" if body.restored_from else "flow_save",
                               name, old_version=body.base_version, new_version=version,
                               restored_from=body.restored_from or None)
        return JSONResponse({"saved": True, "version": version, "issues": _issues(result)})

    @router.get("/api/flows/{name}/versions/{entry}", tags=["flows"], summary="The text of a kept version")
    async def api_version(name: str, entry: str, svc: Svc, session: AdminSession) -> dict[str, str]:
        return {"id": entry, "text": flow_files(svc).old_version(name, entry)}

    return router
