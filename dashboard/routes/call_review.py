"""Call review: the recording (range requests), the transcript synced with playback, QA flags in
place, and the scoring form. Supervisors get redacted text; admins raw. Every access to a recording
or transcript (review page, transcript API, audio with or without a Range header, download) and
every score is written to the audit log; one user's repeated requests for the same call by the
same channel within IVR_DASHBOARD_ACCESS_COALESCE seconds (one playback's range requests) make
one entry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response

from dashboard.audit import Action
from dashboard.call_facts import Provenance, answer_facts, call_path, mark_flags, provenance, who_hung_up
from dashboard.call_list import check_call_id, get_record
from dashboard.deps import CurrentSession, Services, Svc, check_csrf, render
from dashboard.masking import for_role
from dashboard.media import CallMedia, MediaError, call_media, playable, read_transcript
from dashboard.records_db import records
from dashboard.score_store import score_store
from dashboard.scoring import (
    KPI_HELP,
    KPIS,
    SCALES,
    Score,
    ScoreConflict,
    ScoreInput,
    iso_week,
    scale_text,
)
from dashboard.sessions import Session
from ivr import keys
from ivr.privacy.redact import view_transcript
from ivr.transcribe.transcript import Transcript

FLAG_LABELS = {
    "forbidden_phrase": "forbidden phrase", "no_greeting": "no greeting", "late_greeting": "late greeting",
    "no_courtesy": "no courtesy words", "agent_hung_up_first": "agent hung up first",
    "long_silence": "long silence", "talk_over": "talk-over",
}
TRUST_LABELS = {"mismatched_language": "from a wrong-language transcript: not evidence"}


async def audit_access(svc: Services, session: Session, action: Action, call_id: str, channel: str,
                       **detail: Any) -> None:
    """Before anything is served: if Redis cannot take the entry, the request fails (503), unserved."""
    await svc.audit.record_once(keys.dashboard_access_seen(session.user, call_id, channel),
                                svc.settings.dashboard_access_coalesce, session.user, session.role, action,
                                call_id, via=channel, **detail)


async def load_record(svc: Services, call_id: str) -> dict[str, Any]:
    record = await get_record(svc.redis, records(svc), check_call_id(call_id))  # Redis, else SQL
    if record is None:
        raise HTTPException(404, f"no call record {call_id!r}")
    return record


def media_of(svc: Services, record: dict[str, Any]) -> CallMedia:
    try:
        return call_media(record, svc.settings.recordings_dir)
    except MediaError as exc:
        raise HTTPException(exc.status, str(exc)) from exc


def place_flags(lines: list[dict[str, Any]], flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attach each QA flag to the transcript line it happened in (else the last line before it)."""
    unplaced: list[dict[str, Any]] = []
    for flag in flags:
        t = float(flag.get("t", 0.0))
        same = [ln for ln in lines if ln["start"] - 0.5 <= t <= ln["end"] + 0.5
                and (not flag.get("speaker") or flag["speaker"] == ln["speaker"])]
        before = [ln for ln in lines if ln["start"] <= t]
        candidates = same or before[-1:] or lines[:1]
        if candidates:
            candidates[0]["flags"].append(flag)
        else:
            unplaced.append(flag)
    return unplaced


class TranscriptView:
    """The lines the viewer may see, or why there are none, and which model wrote them."""

    def __init__(self, media: CallMedia, session: Session, record: dict[str, Any]) -> None:
        self.lines: list[dict[str, Any]] = []
        self.error: str | None = None
        transcript: Transcript | None = None
        try:
            transcript = read_transcript(media)
        except MediaError as exc:
            self.error = str(exc)
        self.provenance: Provenance | None = provenance(record, transcript)
        if transcript is not None:
            shown = view_transcript(transcript, session.role)
            self.lines = [{"i": i, "speaker": u.speaker, "start": u.start, "end": u.end, "text": u.text,
                           "flags": []} for i, u in enumerate(shown.utterances)]

    def flags(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        qa = record.get("qa") if isinstance(record.get("qa"), dict) else {}
        return mark_flags([f for f in (qa or {}).get("flags", []) if isinstance(f, dict)], self.provenance)


def score_input(form: dict[str, Any]) -> ScoreInput:
    kpis: dict[str, int] = {}
    problems = []
    for k, (label, _) in KPIS.items():
        raw = str(form.get(f"kpi_{k}", "")).strip()
        try:
            kpis[k] = int(raw)
        except ValueError:
            problems.append(f"{label}: give a whole number {scale_text(k)} (got {raw[:20]!r})")
    data = ScoreInput(kpis=kpis, comment=str(form.get("comment", ""))[:4000],
                      supersedes=str(form.get("supersedes") or "") or None, reason=str(form.get("reason", ""))[:4000])
    problems += data.problems()
    if problems:
        raise HTTPException(400, "; ".join(problems))
    return data


async def submit_score(svc: Services, session: Session, record: dict[str, Any], data: ScoreInput) -> Score:
    problems = data.problems()
    if problems:
        raise HTTPException(400, "; ".join(problems))
    agent = str(record.get("agent") or "")
    if not agent:
        raise HTTPException(400, f"call {record['call_id']}: no agent on the record, nothing to score")
    week = iso_week(float(record.get("start") or 0.0), svc.settings.timezone)
    try:
        score = await score_store(svc).submit(record["call_id"], agent, week, session.user, data,
                                                   at=svc.clock.now().timestamp(), survey=record.get("survey"))
    except ScoreConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    action: Action = "supersede" if data.supersedes else "score"
    await svc.audit.record(session.user, session.role, action, record["call_id"], score=score.id,
                           total=score.total, agent=agent, supersedes=data.supersedes, reason=data.reason)
    return score


async def review_response(request: Request, svc: Services, session: Session, call_id: str,
                          error: str = "", status: int = 200) -> Response:
    record = await load_record(svc, call_id)
    media = media_of(svc, record)
    view = TranscriptView(media, session, record)
    await audit_access(svc, session, "review", call_id, "page", transcript=bool(view.lines),
                       audio=media.has_audio)
    flags = view.flags(record)
    unplaced = place_flags(view.lines, flags)
    scores = await score_store(svc).for_call(record["call_id"])
    current = next((s for s in reversed(scores) if s.superseded_by is None), None)
    call = for_role(record, session)
    return render(request, "review.html", call=call, media=media, lines=view.lines, flags=flags,
                  unplaced=unplaced, flag_labels=FLAG_LABELS, trust_labels=TRUST_LABELS, transcript_error=view.error,
                  provenance=view.provenance, path=call_path(call.get("events") or []),
                  answer=answer_facts(call), hung_up=who_hung_up(call), kpis=KPIS, scales=SCALES,
                  kpi_help=KPI_HELP, scores=scores, current=current, error=error[:500], status_code=status)


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/calls/{call_id}", include_in_schema=False)
    async def review_page(call_id: str, request: Request, svc: Svc, session: CurrentSession) -> Response:
        return await review_response(request, svc, session, call_id)

    @router.get("/calls/{call_id}/audio", include_in_schema=False)
    async def audio(call_id: str, request: Request, svc: Svc, session: CurrentSession,
                    download: Annotated[bool, Query()] = False) -> Response:
        record = await load_record(svc, call_id)
        try:
            path = await playable(media_of(svc, record))
        except MediaError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        # Every request is audited whatever its Range header says; one playback's seeks coalesce.
        await audit_access(svc, session, "download" if download else "listen", call_id,
                           "download" if download else "audio", file=path.name,
                           range=request.headers.get("range", "")[:100])
        return FileResponse(path, media_type="audio/wav", filename=f"{call_id}.wav" if download else None,
                            content_disposition_type="attachment" if download else "inline",
                            headers={"Cache-Control": "private, no-store"})

    @router.post("/calls/{call_id}/score", include_in_schema=False, dependencies=[Depends(check_csrf)])
    async def score_form(call_id: str, request: Request, svc: Svc, session: CurrentSession) -> Response:
        record = await load_record(svc, call_id)
        form = dict((await request.form()).items())
        try:
            await submit_score(svc, session, record, score_input(form))
        except HTTPException as exc:
            return await review_response(request, svc, session, call_id, str(exc.detail), exc.status_code)
        return RedirectResponse(f"/calls/{call_id}#score", status_code=303)

    @router.get("/api/calls/{call_id}/transcript", tags=["calls"],
                summary="Transcript lines (redacted unless you are an admin) with QA flags placed")
    async def api_transcript(call_id: str, svc: Svc, session: CurrentSession) -> dict[str, Any]:
        record = await load_record(svc, call_id)
        view = TranscriptView(media_of(svc, record), session, record)
        if view.error:
            raise HTTPException(500, view.error)
        await audit_access(svc, session, "transcript", call_id, "api", redacted=not session.is_admin,
                           lines=len(view.lines))
        unplaced = place_flags(view.lines, view.flags(record))
        prov = view.provenance.to_dict() if view.provenance else None
        return {"call_id": call_id, "redacted": not session.is_admin, "provenance": prov, "lines": view.lines,
                "unplaced_flags": unplaced}

    @router.get("/api/calls/{call_id}/scores", tags=["qa"], response_model=list[Score],
                summary="Every score of a call, oldest first (superseded ones included)")
    async def api_scores(call_id: str, svc: Svc, session: CurrentSession) -> list[Score]:
        return await score_store(svc).for_call(check_call_id(call_id))

    @router.post("/api/calls/{call_id}/scores", tags=["qa"], response_model=Score, status_code=201,
                 dependencies=[Depends(check_csrf)],
                 summary="Score a call (send X-CSRF-Token); to change a score, supersede it with a reason")
    async def api_score(call_id: str, data: ScoreInput, svc: Svc, session: CurrentSession) -> Score:
        return await submit_score(svc, session, await load_record(svc, call_id), data)

    return router
