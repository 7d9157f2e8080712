"""The live demo's agents: SIPp phones that ring, answer and speak Chinese (espeak-ng, voice cmn).

Their words come from the QA policy's phrase lists (ivr/policy/*-phrases-zh.txt, read with
ivr.qa.phrases), so what QA looks for is what they say: two polite agents open with the policy
greeting and use courtesy words; one rude agent talks back with forbidden phrases and hangs up first
after a few seconds. Ring times are whole ring cycles of queues.yaml (ring_cycle_s): 1, 2 and 3 rings,
inside the policy's three.
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from harness.sipp import SippAgent
from harness.speech import speak
from ivr.qa.phrases import load_list


@dataclass(frozen=True)
class AgentSpec:
    agent: str
    rings: float  # ring cycles before answering
    talk_s: float  # then the agent hangs up (unless the caller did)
    rude: bool = False


AGENTS = (AgentSpec("1001", 0.6, 20.0), AgentSpec("1002", 1.6, 8.0, rude=True), AgentSpec("1003", 2.6, 20.0))
COMPANY = "星海科技客服热线"


def words(policy_dir: Path, rude: bool) -> str:
    """What the agent says, built from the policy's greeting, courtesy and forbidden phrase lists."""
    if rude:
        forbidden = [p.text for p in load_list(policy_dir, "forbidden", "zh").phrases]
        return "，".join(forbidden[i] for i in (0, 2, 6, 1) if i < len(forbidden)) + "。"
    greeting = [p.text for p in load_list(policy_dir, "greeting", "zh").phrases]
    courtesy = [p.text for p in load_list(policy_dir, "courtesy", "zh").phrases]
    hello = greeting[0]
    please, thanks = (courtesy[0], courtesy[2]) if len(courtesy) > 2 else (courtesy[0], courtesy[0])
    return (f"{hello}，这里是{COMPANY}，请问有什么可以帮您？{please}稍等，我帮您查一下。"
            f"{thanks}您的耐心，感谢您的来电，再见。")


def speech_file(out: Path, text: str) -> Path:
    """`text` as 8 kHz mu-law, what SIPp's rtp_stream plays to the caller after answering."""
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".raw.wav")
    pcm = speak(text, "cmn")
    with wave.open(str(raw), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-e", "u-law", str(out), "pad", "0.3", "0.5"],
                   check=True, capture_output=True, timeout=60)
    raw.unlink()
    return out


def phones(work: Path, policy_dir: Path, ring_cycle_s: float) -> list[SippAgent]:
    """The agents' phones (not started); each speaks its words right after answering."""
    polite = speech_file(work / "speech" / "polite.wav", words(policy_dir, rude=False))
    rude = speech_file(work / "speech" / "rude.wav", words(policy_dir, rude=True))
    return [SippAgent(a.agent, ring_ms=int(a.rings * ring_cycle_s * 1000), talk_ms=int(a.talk_s * 1000),
                      workdir=work / "phones", speech=rude if a.rude else polite, new_session=True)
            for a in AGENTS]


def customer_phone(work: Path, port: int) -> SippAgent:
    """The phone a queued callback rings: answers after one ring, listens, hangs up."""
    phone = SippAgent("customer", ring_ms=2000, talk_ms=8000, workdir=work / "phones", new_session=True)
    phone.port = port
    return phone
