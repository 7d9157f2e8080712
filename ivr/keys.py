"""Every Redis key name the project uses, and how long each is kept, in one place.

Values are JSON. TTLs are derived from the settings, never written as numbers elsewhere: per-call
state, callbacks and the queues' day counters live `call_record_ttl_s(settings)` (IVR_CALL_RECORD_TTL_DAYS).
Layout of a call record (written by the engine and, later, the AMI listener,
so fields are separate hash entries and events a list: two writers never
overwrite each other's data):

    ivr:call:<call_id>          hash  field -> JSON value (caller, start, end, outcome, queue, ...)
    ivr:call:<call_id>:events   list  JSON events in order ({"t": ts, "kind": "node"|"dtmf"|..., ...})
    ivr:calls                   zset  call_id scored by start time (epoch seconds)
"""

from __future__ import annotations

from ivr.settings import Settings

PREFIX = "ivr"
DAY_S = 86_400


def call_record_ttl_s(settings: Settings) -> int:
    """TTL of call records and their index, callbacks and their attempts, and queue day counters:
    all kept as long as a call record, so a record never points at a callback or counter already gone."""
    return settings.call_record_ttl_days * DAY_S


# The same for code given no settings (unit tests, a script whose settings are unreadable): the
# setting's own default, so the two cannot drift apart.
DEFAULT_CALL_RECORD_TTL_S: int = Settings.model_fields["call_record_ttl_days"].default * DAY_S


def call(call_id: str) -> str:
    return f"{PREFIX}:call:{call_id}"


def call_events(call_id: str) -> str:
    return f"{PREFIX}:call:{call_id}:events"


CALLS_INDEX = f"{PREFIX}:calls"

# Calls whose record changed since it was last copied into the records database (ivr/records/mover.py):
# zset call_id scored by when it was written. The RecordWriter adds to it with every write of a call hash;
# the mover removes an entry once that version is in SQL and then shortens the record's TTL to
# call_record_live_ttl_s, so Redis holds days of calls, not the whole retention period.
RECORDS_PENDING = f"{PREFIX}:records:pending"


def call_record_live_ttl_s(settings: Settings) -> int:
    """How long a call's record stays in Redis once it is in SQL (IVR_CALL_RECORD_LIVE_DAYS)."""
    return settings.call_record_live_days * DAY_S


# Incident statement (统一口径): JSON {"on": bool, "text": {lang: text}, "recovery": "...", "since": ts}
INCIDENT = f"{PREFIX}:incident"


def schedule_override(name: str) -> str:
    """Manual override of a schedule: JSON "open" | "closed" (absent = follow the calendar)."""
    return f"{PREFIX}:schedule:{name}:override"


def flow_error(flow: str) -> str:
    """Last reload error of a flow (JSON {"file","errors","at"}); deleted when a reload succeeds."""
    return f"{PREFIX}:flow:{flow}:error"


FLOW_EVENTS = f"{PREFIX}:flows:events"  # pub/sub channel: flow reload results

# hash task name -> how often that background task of `ivr serve` died (ivr/tasks.py); /metrics counter
TASK_DEATHS = f"{PREFIX}:metrics:task_deaths"

# Dashboard (issue 5). Users: hash name -> JSON {"name","role","hash","endpoint","created"}.
DASHBOARD_USERS = f"{PREFIX}:dashboard:users"


def dashboard_session(session_id: str) -> str:
    """JSON {"user","role","csrf","created"}; the key's TTL is the idle timeout."""
    return f"{PREFIX}:dashboard:session:{session_id}"


def dashboard_user_sessions(user: str) -> str:
    """Set of the user's session ids, so a password change ends them without scanning the keyspace;
    its TTL is IVR_DASHBOARD_SESSION_MAX (renewed at each login), as no session outlives that."""
    return f"{PREFIX}:dashboard:user-sessions:{user}"


# When the first indexed session was made (epoch seconds, no TTL). Sessions from before the index
# can live IVR_DASHBOARD_SESSION_MAX seconds after that, so until then ending a user's sessions
# also scans for them.
DASHBOARD_SESSIONS_INDEXED_SINCE = f"{PREFIX}:dashboard:sessions-indexed-since"


AUDIT_LOG = f"{PREFIX}:audit"  # list of JSON {"at","user","role","action","target","detail"}, oldest first
# How many entries at the head of AUDIT_LOG are already in the records database (ivr/records/audit.py):
# the list is the write buffer of the audit log; moved entries are trimmed from it after a day.
AUDIT_MOVED = f"{PREFIX}:audit:moved"


def qa_score(score_id: str) -> str:
    """JSON score of one call review; never rewritten except to mark it superseded."""
    return f"{PREFIX}:qa:score:{score_id}"


def qa_call_scores(call_id: str) -> str:
    return f"{PREFIX}:qa:call:{call_id}:scores"  # list of score ids, oldest first


QA_SCORES = f"{PREFIX}:qa:scores"  # zset score_id by submission time


def qa_sample(week: str) -> str:
    """Weekly review sample (week "2026-W10"): JSON {"seed","drawn_at","items":[...]}."""
    return f"{PREFIX}:qa:sample:{week}"


QA_SAMPLE_PATTERN = qa_sample("*")  # SCAN match of every weekly sample (retention)


def qa_sample_week(key: str) -> str | None:
    """The week of a qa_sample() key, None for any other key."""
    head = qa_sample("")
    return key[len(head):] if key.startswith(head) else None

# Recording, transcription and QA (issue 4): fields of the call hash ivr:call:<id>, values JSON.
CALL_RECORDING = "recording"  # {"dir","caller","agent","mixed","finished_at"}
CALL_TRANSCRIPTION = "transcription"  # job state {"state","job_id","attempt","reason","at"}
CALL_TRANSCRIPT = "transcript"  # {"json","text","language","model","at"}
CALL_QA = "qa"  # {"flags":[...],"metrics":{...},"lists":{...},"at"}
CALL_HANGUP_BY = "hangup_by"  # "agent" | "caller" | "system", written by the call path


def dashboard_trend(iso_day: str) -> str:
    """Wallboard samples of one local day: list of JSON {"t": seconds since midnight, "queues": {...}}.
    TTL dashboard_trend_ttl_s (refreshed by every sample)."""
    return f"{PREFIX}:dashboard:trend:{iso_day}"


def dashboard_trend_ttl_s(settings: Settings) -> int:
    """A day's trend samples are kept IVR_DASHBOARD_TREND_DAYS (a week back and today, by default)."""
    return settings.dashboard_trend_days * DAY_S


def dashboard_login_failures(name: str) -> str:
    """Failed logins of one user name: integer, TTL Settings.dashboard_login_window (brute-force limit)."""
    return f"{PREFIX}:dashboard:login-failures:{name}"


def dashboard_login_failures_ip(ip: str) -> str:
    """Failed logins from one client IP: integer, TTL Settings.dashboard_login_window (brute-force limit)."""
    return f"{PREFIX}:dashboard:login-failures-ip:{ip}"


def dashboard_access_seen(user: str, call_id: str, channel: str) -> str:
    """Marker that `user` accessed a call's recording/transcript by `channel` (listen, download, transcript,
    review page) and it was audited: TTL Settings.dashboard_access_coalesce, so one playback's range
    requests make one audit entry."""
    return f"{PREFIX}:dashboard:access-seen:{user}:{call_id}:{channel}"


# Queues (ivr/queueing). VIP list: set of normalized numbers, editable at run time.
VIP = f"{PREFIX}:vip"


def callback(callback_id: str) -> str:
    """Queued callback: hash field -> JSON (queue, number, call_id, enqueued_at, status, attempts, ...).
    A finished callback and its attempts expire after call_record_ttl_s."""
    return f"{PREFIX}:callback:{callback_id}"


def callback_attempts(callback_id: str) -> str:
    """Every dial attempt of a callback, in order: list of JSON {"at", "outcome", ...}."""
    return f"{PREFIX}:callback:{callback_id}:attempts"


# Finished callbacks (done, failed, cancelled) not yet copied into the records database
# (ivr/records/callback_history.py): zset callback_id scored by when it finished. The callback's own
# Lua step adds it; the mover removes it once that version is in SQL and shortens the callback's and
# its attempts' TTL to call_record_live_ttl_s.
CALLBACKS_FINISHED = f"{PREFIX}:callbacks:finished"

# Every callback hash is ivr:callback:<id> (its attempts ivr:callback:<id>:attempts): what
# `ivr db migrate-redis` scans for finished callbacks kept in Redis alone.
CALLBACK_PATTERN = f"{PREFIX}:callback:*"


def callback_queue(queue: str) -> str:
    """Pending callbacks of a queue: zset callback_id scored by the ORIGINAL enqueue time (keeps the place)."""
    return f"{PREFIX}:queue:{queue}:callbacks"


def callback_by_number(number: str) -> str:
    """The open callback of a normalized number (one per number): string callback_id."""
    return f"{PREFIX}:callback-by-number:{number}"


# Live queue state, written by the AMI listener (ivr.queueing.live), read by the wallboard.
def queue_callers(queue: str) -> str:
    """Callers waiting: hash uniqueid -> JSON {"caller", "since" (epoch), "position", "priority"}."""
    return f"{PREFIX}:queue:{queue}:callers"


def queue_agents(queue: str) -> str:
    """Members: hash agent -> JSON {"state": available|ringing|on_call|paused|offline, "since", "reason"}."""
    return f"{PREFIX}:queue:{queue}:agents"


def queue_day(queue: str, iso_day: str) -> str:
    """Today's counters (local day): hash offered, answered, answered_in_time, abandoned, ... -> int.
    TTL call_record_ttl_s (refreshed by every write)."""
    return f"{PREFIX}:queue:{queue}:day:{iso_day}"


def queue_handle_times(queue: str) -> str:
    """Talk seconds of the queue's most recent calls (newest first, capped): list of JSON numbers.
    Feeds our wait estimate (ivr.queueing.estimate)."""
    return f"{PREFIX}:queue:{queue}:handle_times"


# Voicemail messages that could not be kept (the engine counts them, /metrics exports them as the
# counter ivr_voicemail_lost_total{reason}): hash reason -> int. No TTL: a counter must not go back.
VOICEMAIL_LOST = f"{PREFIX}:metrics:voicemail_lost"


# Transcription jobs: RQ names their keys (rq:job:<id>, rq:queue:<Settings.transcribe_queue>, the
# failed-jobs registry); we name the job and say how long it outlives its end.
def transcribe_job_id(call_id: str) -> str:
    """RQ job id of a call's transcription. RQ allows letters, digits, "_" and "-" only, and
    Asterisk's uniqueid is "<epoch>.<n>"."""
    return f"transcribe-{call_id.replace('.', '_')}"


TRANSCRIBE_RESULT_TTL_S = DAY_S  # a done job: its transcript is on disk and linked on the call record
TRANSCRIBE_FAILURE_TTL_S = 30 * DAY_S  # a failed job stays in `ivr transcribe failed` for a month


# Several flow servers on one Asterisk (ivr/state/lease.py, docs/operations.md).
# The leader lease: string holder node name, PX settings.leader_lease_s; only the holder renews/releases.
LEADER = f"{PREFIX}:leader"
# hash node -> JSON {"at": epoch, "leading": bool}: who last said what, for `ivr doctor` and /metrics.
LEADER_NODES = f"{PREFIX}:leader:nodes"
# zset: identities of the AMI events the leader applied (ivr/queueing/replay.py: Asterisk's Timestamp and
# the event's ids), scored by that timestamp, written in the same MULTI as the event's counters, so a new
# leader replays exactly what the last one had not applied. Pruned after 300 s by the leader.
AMI_APPLIED = f"{PREFIX}:ami:applied"
# The leader's memory between AMI events (ivr/queueing/leader_state.py), in the MULTI of each event, for the next
# leader. Hashes uniqueid -> JSON ring timing, agent -> misses in a row; TTL queue_pass_ttl_s (longer than a call).
AMI_RINGS = f"{PREFIX}:ami:rings"
AMI_MISSES = f"{PREFIX}:ami:misses"


def queue_pass(uid: str) -> str:
    """A caller's Queue() passes, written by the engine (begin/finish) and the leader's listener (joins):
    hash queue, timeout:<queue>:<n>, joins:<queue>, first_at:<queue>, finished, finished_at.
    TTL queue_pass_ttl_s (refreshed by every write)."""
    return f"{PREFIX}:queue-pass:{uid}"


def queue_pass_held(uid: str) -> str:
    """AMI events of a pass timeout the listener holds until the engine says how the wait ended: list JSON."""
    return f"{PREFIX}:queue-pass:{uid}:held"


# Held events an ended wait released (list of JSON {"uid", "outcome", "events"}), fed by the leader's listener.
QUEUE_PASS_RELEASED = f"{PREFIX}:queue-pass:released"


def queue_pass_ttl_s(settings: Settings) -> int:
    """Longer than any call, so a pass outlives the call's trailing AMI events."""
    return settings.queue_pass_ttl_s

# Transcription jobs whose recording this worker's host could not read (recordings not on storage the
# worker mounts, docs/operations.md): hash host -> int. No TTL: a counter must not go back.
TRANSCRIBE_UNREACHABLE = f"{PREFIX}:metrics:transcribe_unreachable"


# Live QA (ivr/liveqa): a call streamed by one `ivr liveqa` process: SET NX with TTL liveqa_claim_s (renewed
# while it streams), value the holder's node name, so two processes never stream the same call.
def liveqa_claim(call_id: str) -> str:
    return f"{PREFIX}:liveqa:claim:{call_id}"


def liveqa_claim_ttl_s(settings: Settings) -> int:
    return settings.liveqa_claim_s


# Recent live QA alerts, newest first: list of JSON (ivr/liveqa/alerts.py), trimmed, TTL liveqa_alert_keep_s.
LIVEQA_ALERTS = f"{PREFIX}:liveqa:alerts"


def liveqa_alerts_ttl_s(settings: Settings) -> int:
    return settings.liveqa_alert_keep_s


# Counters for /metrics: hash "alerts:<kind>", "streamed", "degraded:<reason>" -> int. No TTL (counters).
LIVEQA_COUNTS = f"{PREFIX}:metrics:liveqa"
# Each liveqa process's load: hash node -> JSON {"calls", "capacity", "at"}; /metrics shows entries that are fresh.
LIVEQA_LOAD = f"{PREFIX}:liveqa:load"
