"""SIPp scenarios for real calls: callers (UAC) that press keys, and agents (UAS) that ring and answer.

A caller script is a list of steps:
    Wait(ms)          silence (RTP keeps flowing from Asterisk; we just listen)
    Dtmf("12")        RFC 4733 DTMF, played from pcaps (harness/dtmf_pcap.py)
    Audio(path, loops) stream an 8 kHz mu-law file (speech for recordings), loops=-1 until the end
    AwaitHangup(ms)   wait for Asterisk's BYE; if none comes in time, hang up ourselves
    Hangup()          send BYE
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from harness.dtmf_pcap import PAYLOAD_TYPE, write_digit_pcap

# SIPp sends each digit for about 250 ms; this gap keeps digits distinct.
DIGIT_GAP_MS = 400


@dataclass(frozen=True)
class Wait:
    ms: int


@dataclass(frozen=True)
class Dtmf:
    digits: str


@dataclass(frozen=True)
class Audio:
    path: Path
    loops: int = 1  # -1: over and over until the call ends


@dataclass(frozen=True)
class AwaitHangup:
    ms: int


@dataclass(frozen=True)
class Hangup:
    pass


Step = Wait | Dtmf | Audio | AwaitHangup | Hangup


def sdp(origin: str) -> str:
    """The SDP body both sides offer: PCMU plus RFC 4733 telephone-event (payload type 101, which
    dtmf_pcap.py writes); `origin` names the side in the o= line."""
    return f"""      v=0
      o={origin} 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 {PAYLOAD_TYPE}
      a=rtpmap:0 PCMU/8000
      a=rtpmap:{PAYLOAD_TYPE} telephone-event/8000
      a=fmtp:{PAYLOAD_TYPE} 0-15
      a=sendrecv
"""


def _send(headers: list[str], *, retrans: bool = False, sdp_origin: str | None = None) -> str:
    """A SIPp <send> of one SIP message: its headers, then Content-Length and the SDP body if any."""
    if sdp_origin is None:
        tail, body = ["Content-Length: 0"], ""
    else:
        tail, body = ["Content-Type: application/sdp", "Content-Length: [len]"], "\n" + sdp(sdp_origin)
    return (('  <send retrans="500">\n' if retrans else "  <send>\n") + "    <![CDATA[\n"
            + "".join(f"      {h}\n" for h in headers + tail) + body + "    ]]>\n  </send>\n")


def caller_request(method: str, cseq: int, *, in_dialog: bool, retrans: bool, sdp_origin: str | None = None) -> str:
    """A request of the caller's dialog (INVITE, ACK, BYE); in_dialog adds the tag Asterisk gave."""
    return _send([
        f"{method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        'From: "[field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]',
        "To: <sip:[service]@[remote_ip]:[remote_port]>" + ("[peer_tag_param]" if in_dialog else ""),
        "Call-ID: [call_id]",
        f"CSeq: {cseq} {method}",
        "Contact: sip:[field0]@[local_ip]:[local_port]",
        "Max-Forwards: 70",
    ], retrans=retrans, sdp_origin=sdp_origin)


_AGENT_TAG = ";tag=[pid]SIPpTag01[call_number]"
_CONTACT = "Contact: <sip:[local_ip]:[local_port];transport=[transport]>"


def reply(status: str, *, to_tag: bool = False, contact: bool = True, cseq: str = "[last_CSeq:]",
          retrans: bool = False, sdp_origin: str | None = None) -> str:
    """A response to the request just received, its headers copied by SIPp ([last_*]); `to_tag`
    adds the agent's tag (the agent's phone answers as a new dialog)."""
    headers = [f"SIP/2.0 {status}", "[last_Via:]", "[last_From:]", "[last_To:]" + (_AGENT_TAG if to_tag else ""),
               "[last_Call-ID:]", cseq]
    return _send(headers + ([_CONTACT] if contact else []), retrans=retrans, sdp_origin=sdp_origin)


INVITE = (caller_request("INVITE", 1, in_dialog=False, retrans=True, sdp_origin="caller")
          + """  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
""" + caller_request("ACK", 1, in_dialog=True, retrans=False))

BYE = ('  <label id="{label}"/>\n' + caller_request("BYE", 2, in_dialog=True, retrans=True)
       + '  <recv response="200" crlf="true"/>\n  <nop next="end"/>\n')

# Answers the BYE just received and ends the call (shared with bench/load.py).
OK_TO_BYE = reply("200 OK") + '  <nop next="end"/>\n'
_RECV_BYE = '  <recv request="BYE" timeout="{ms}" ontimeout="{label}"/>\n' + OK_TO_BYE


def _step_xml(step: Step, bye_label: str, pcap_dir: Path, counter: list[int]) -> str:
    if isinstance(step, Wait):
        return f'  <pause milliseconds="{step.ms}"/>\n'
    if isinstance(step, Dtmf):
        parts = []
        for d in step.digits:
            pcap = escape(str(write_digit_pcap(pcap_dir, d, counter[0])))
            counter[0] += 1
            parts.append(f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
                         f'  <pause milliseconds="{DIGIT_GAP_MS}"/>\n')
        return "".join(parts)
    if isinstance(step, Audio):
        return f'  <nop><action><exec rtp_stream="{escape(str(step.path))},{step.loops},0"/></action></nop>\n'
    if isinstance(step, AwaitHangup):
        return _RECV_BYE.format(ms=step.ms, label=bye_label)
    return f'  <nop next="{bye_label}"/>\n'


def caller_scenario(steps: list[Step], pcap_dir: Path, name: str = "hotline caller") -> str:
    """UAC scenario: INVITE (PCMU + telephone-event), then the steps, then BYE unless Asterisk hung up.
    DTMF pcaps are written to `pcap_dir`."""
    counter = [0]
    body = "".join(_step_xml(s, "bye", pcap_dir, counter) for s in steps)
    if not steps or not isinstance(steps[-1], AwaitHangup | Hangup):
        body += '  <nop next="bye"/>\n'
    return (f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{escape(name)}">\n'
            + INVITE + body + BYE.format(label="bye") + '  <label id="end"/>\n'
            + '  <ResponseTimeRepartition value="100, 500, 1000, 5000"/>\n</scenario>\n')


_AGENT = ("""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="hotline agent">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="remote_from"/>
      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" check_it="true" assign_to="remote_contact"/>
    </action>
  </recv>
""" + reply("180 Ringing", to_tag=True) + """  <recv request="CANCEL" timeout="{ring_ms}" ontimeout="answer"/>
""" + reply("200 OK", to_tag=True, contact=False)
    + reply("487 Request Terminated", to_tag=True, contact=False, cseq="CSeq: [cseq] INVITE")
    + """  <recv request="ACK"/>
  <nop next="end"/>
  <label id="answer"/>
""" + reply("200 OK", to_tag=True, retrans=True, sdp_origin="agent") + """  <recv request="ACK" rtd="true" crlf="true"/>
{talk}
  <recv request="BYE" timeout="{talk_ms}" ontimeout="agent_bye"/>
""" + reply("200 OK", contact=False) + """  <nop next="end"/>
  <label id="agent_bye"/>
""" + _send([
    "BYE [$remote_contact] SIP/2.0",
    "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
    "From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]",
    "To: [$remote_from]",
    "Call-ID: [call_id]",
    "CSeq: 1 BYE",
    _CONTACT,
    "Max-Forwards: 70",
], retrans=True) + """  <recv response="200" crlf="true"/>
  <label id="end"/>
</scenario>
""")


def agent_scenario(ring_ms: int, talk_ms: int, speech: Path | None = None) -> str:
    """UAS scenario for an agent's phone: rings for ring_ms (or until the queue gives up and CANCELs),
    answers, talks for talk_ms (optionally streaming speech), then hangs up unless the caller did."""
    talk = f'  <nop><action><exec rtp_stream="{escape(str(speech))},1,0"/></action></nop>' if speech else ""
    return _AGENT.format(ring_ms=ring_ms, talk_ms=talk_ms, talk=talk)


def _register(cseq: int, auth: str, expires: int) -> str:
    return _send([
        "REGISTER sip:[remote_ip]:[remote_port] SIP/2.0",
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        "From: <sip:[service]@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]",
        "To: <sip:[service]@[remote_ip]:[remote_port]>",
        "Call-ID: [call_id]",
        f"CSeq: {cseq} REGISTER",
        "Contact: <sip:[service]@[local_ip]:[local_port]>" if expires else "Contact: *",
        f"Expires: {expires}",
        "Max-Forwards: 70",
        *([auth] if auth else []),
    ], retrans=True)


def register_scenario(username: str, password: str, expires: int = 60) -> str:
    """UAC scenario of a softphone logging in: REGISTER, answer the 401 digest challenge with
    `username`/`password`, expect 200. The account name is SIPp's service (-s). expires=0 logs
    out again (Contact: *, every contact of the account)."""
    if not all(c.isalnum() or c in "-_.~" for c in username + password):
        raise ValueError("username and password: letters, digits and -_.~ only (they go into the scenario)")
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="register">\n'
            + _register(1, "", expires) + '  <recv response="401" auth="true"/>\n'
            + _register(2, f"[authentication username={username} password={password}]", expires)
            + '  <recv response="200"/>\n</scenario>\n')
