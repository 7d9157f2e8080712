"""Phrase matching the way recognizers write text, on transcripts directly (no ASR involved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.qa.phrases import (
    Phrase,
    PhraseListError,
    Token,
    find,
    list_path,
    load_list,
    parse_list,
    text_stream,
    tokens,
)
from ivr.settings import REPO_ROOT

pytestmark = pytest.mark.timeout(10)
POLICY = REPO_ROOT / "ivr" / "policy"
SHARED = REPO_ROOT.parent / "shared" / "policy"


def phrase(text: str) -> Phrase:
    (p,) = parse_list(text, Path("t.txt"), "forbidden", "zh").phrases
    return p


@pytest.mark.parametrize(
    "written",
    [
        "你问我，我问谁",
        "你问我,我问谁",
        "你问我我问谁",
        "你 问 我 ， 我 问 谁",
        "你 问 我 我 问 谁",
        "你问我。我问谁！",
        "你问我、我问谁",
        "嗯 你问我 我问谁 啊",
        "你問我，我問谁" if False else "你问我 ,  我问谁",
    ],
)
def test_chinese_phrase_matches_with_or_without_spaces_and_punctuation(written: str) -> None:
    assert find(text_stream(written), phrase("你问我，我问谁")) == [0.0]


@pytest.mark.parametrize("written", ["你问我", "我问谁", "你问我们，我问谁", "问我我问谁"])
def test_chinese_phrase_needs_every_character_in_order(written: str) -> None:
    assert find(text_stream(written), phrase("你问我，我问谁")) == []


def test_full_width_latin_and_case_are_normalised() -> None:
    assert tokens("ＨＥＬＬＯ，Ｗｏｒｌｄ！") == ["hello", "world"]
    assert tokens("我 的ABC码") == ["我", "的", "abc", "码"]


@pytest.mark.parametrize(
    ("listed", "written", "hits"),
    [
        ("I don't know", "I don't know", 1),
        ("I don't know", "i DON'T know.", 1),
        ("I don't know", "i don t know", 1),
        ("I don't know", "I do not know", 0),
        ("hey you", "hey you there", 1),
        ("hey you", "they you there", 0),  # "hey" inside "they" is not the word
    ],
)
def test_english_phrases_match_whole_words(listed: str, written: str, hits: int) -> None:
    assert len(find(text_stream(written), phrase(listed))) == hits


def test_barrier_stops_a_phrase_across_a_long_pause() -> None:
    p = phrase("我不知道")
    joined: list[Token | None] = [Token("我", 1.0), Token("不", 1.2), Token("知", 1.4), Token("道", 1.6)]
    split: list[Token | None] = [Token("我", 1.0), Token("不", 1.2), None, Token("知", 9.0), Token("道", 9.2)]
    assert find(joined, p) == [1.0]
    assert find(split, p) == []


def test_every_occurrence_is_found_with_its_time() -> None:
    stream: list[Token | None] = [Token(c, float(i)) for i, c in enumerate("喂喂您好喂")]
    assert find(stream, phrase("喂")) == [0.0, 1.0, 4.0]


def test_product_lists_are_the_policy_lists() -> None:
    for name in ("forbidden-phrases-zh.txt", "courtesy-phrases-zh.txt"):
        if SHARED.is_dir():
            assert (POLICY / name).read_text(encoding="utf-8") == (SHARED / name).read_text(encoding="utf-8")
    forbidden = load_list(POLICY, "forbidden", "zh-CN")
    assert forbidden.path.name == "forbidden-phrases-zh.txt"
    assert {"我不知道", "你问我，我问谁", "喂"} <= {p.text for p in forbidden.phrases}
    for kind in ("forbidden", "courtesy", "greeting"):
        for lang in ("zh", "en"):
            assert load_list(POLICY, kind, lang).phrases


def test_missing_list_and_bad_entries_are_clear(tmp_path: Path) -> None:
    with pytest.raises(PhraseListError, match=r"no forbidden phrase list for language 'fr'.*phrases-fr\.txt"):
        list_path(POLICY, "forbidden", "fr")
    with pytest.raises(PhraseListError, match="unknown phrase list kind"):
        list_path(POLICY, "rude", "zh")
    bad = tmp_path / "forbidden-phrases-zh.txt"
    bad.write_text("# comment\n好的\n，。！\n", encoding="utf-8")
    with pytest.raises(PhraseListError, match=r"forbidden-phrases-zh.txt:3: phrase '，。！' has no letters"):
        load_list(tmp_path, "forbidden", "zh")


def test_digest_changes_with_the_list(tmp_path: Path) -> None:
    path = tmp_path / "forbidden-phrases-zh.txt"
    path.write_text("我不知道\n", encoding="utf-8")
    first = load_list(tmp_path, "forbidden", "zh").digest
    path.write_text("我不知道\n不可能\n", encoding="utf-8")
    assert load_list(tmp_path, "forbidden", "zh").digest != first
