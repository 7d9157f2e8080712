from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivr.cli.prompts import app
from ivr.prompts import PromptError, build_prompts, ensure_prompt, prompt_file
from tests.support.components import require

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _tools() -> None:
    for tool in ("espeak-ng", "sox", "soxi"):
        require(tool, "prompt synthesis")


def soxi(path: Path, flag: str) -> str:
    out = subprocess.run(["soxi", flag, str(path)], capture_output=True, text=True, check=True, timeout=10)
    return out.stdout.strip()


def wav(base: Path) -> Path:
    assert base.suffix == ""  # Asterisk appends the extension itself
    return base.with_name(base.name + ".wav")


@pytest.mark.parametrize(
    ("text", "language"),
    [("您好，欢迎致电客服热线，请按一号键。", "zh-CN"), ("Hello, welcome to the customer hotline.", "en-US")],
)
def test_synthesized_prompt_is_8k_mono_16bit(tmp_path: Path, text: str, language: str) -> None:
    base = ensure_prompt(text, language, tmp_path)
    assert base == prompt_file(text, language, tmp_path)
    assert len(base.name) == 20
    f = wav(base)
    assert soxi(f, "-r") == "8000"
    assert soxi(f, "-c") == "1"
    assert soxi(f, "-b") == "16"
    assert float(soxi(f, "-D")) > 1.0  # a real sentence, not a click
    assert [p.name for p in tmp_path.iterdir()] == [f.name]  # no temp files left behind


def test_cached_and_distinct(tmp_path: Path) -> None:
    first = ensure_prompt("请稍候", "zh-CN", tmp_path)
    mtime = wav(first).stat().st_mtime_ns
    assert ensure_prompt("请稍候", "zh-CN", tmp_path) == first
    assert wav(first).stat().st_mtime_ns == mtime  # not synthesized again
    other = ensure_prompt("谢谢，再见", "zh-CN", tmp_path)
    assert other != first and wav(other).is_file()
    assert prompt_file("请稍候", "en-US", tmp_path) != first  # language is part of the key
    assert prompt_file("请稍候", "zh-CN", tmp_path, voice="cmn-latn-pinyin") != first


def test_failure_names_the_text(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="无此语音") as info:
        ensure_prompt("无此语音", "zh-CN", tmp_path, voice="nosuchvoice")
    assert "voice" in str(info.value).lower()  # espeak-ng's own complaint is included
    assert not any(tmp_path.iterdir())
    with pytest.raises(PromptError, match="fr-FR"):
        ensure_prompt("Bonjour", "fr-FR", tmp_path)


def test_build_prompts_counts(tmp_path: Path) -> None:
    items = [("您好", "zh-CN"), ("Hello", "en-US"), ("您好", "zh-CN"), ("Bonjour", "fr-FR")]
    seen: list[str] = []
    stats = build_prompts(items, tmp_path, lambda _t, _l, result: seen.append(result))
    assert (stats.built, stats.cached, stats.failed) == (2, 0, 1)
    assert "Bonjour" in stats.errors[0]
    assert sorted(seen) == ["built", "built", "failed"]
    again = build_prompts(items[:2], tmp_path)
    assert (again.built, again.cached, again.failed) == (0, 2, 0)


FLOW = """\
name: demo
languages: [zh-CN, en-US]
start: bye
prompts:
  goodbye: {zh-CN: 感谢您的来电，再见。, en-US: Thank you for calling. Goodbye.}
nodes:
  bye: {type: hangup, prompt: goodbye}
"""


def test_cli_build_and_say(tmp_path: Path) -> None:
    flows, prompts = tmp_path / "flows", tmp_path / "prompts"
    flows.mkdir()
    (flows / "demo.yaml").write_text(FLOW, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["build", "--flows-dir", str(flows), "--prompts-dir", str(prompts)])
    assert result.exit_code == 0, result.output
    assert "2 built, 0 cached, 0 failed" in result.output
    assert wav(prompt_file("感谢您的来电，再见。", "zh-CN", prompts)).is_file()
    result = runner.invoke(app, ["say", "Goodbye", "--lang", "en-US", "--prompts-dir", str(prompts)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(prompt_file("Goodbye", "en-US", prompts))
    bad = runner.invoke(app, ["say", "x", "--voice", "nosuchvoice", "--prompts-dir", str(prompts)])
    assert bad.exit_code == 1


def test_cli_build_reports_broken_flow(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "broken.yaml").write_text("name: broken\nstart: nowhere\nnodes:\n  a: {type: nope}\n",
                                       encoding="utf-8")
    args = ["build", "--flows-dir", str(flows), "--prompts-dir", str(tmp_path / "p")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "broken.yaml" in result.output
