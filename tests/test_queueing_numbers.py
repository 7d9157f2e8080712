"""Caller IDs of any shape normalised, and the callback numbering plan of queues.yaml: what a callback
may dial (China mobile and landline), what it may never dial (emergency, short codes, premium lines,
other countries unless a rule allows them), and a plan or texts that are wrong named at their line."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.queueing.announce import announcement_text
from ivr.queueing.config import QueueConfigError, load_queue_config, parse_queue_config
from ivr.queueing.numbers import BadNumber, NumberingPlan, normalize_number, spoken_number
from ivr.settings import REPO_ROOT
from tests.test_queueing_config import ANNOUNCEMENT_SECTION, CALLBACK_SECTIONS

pytestmark = pytest.mark.timeout(60)
CFG = load_queue_config(REPO_ROOT / "ivr" / "flows" / "queues.yaml")
assert CFG.callback_numbers is not None
PLAN: NumberingPlan = CFG.callback_numbers


@pytest.mark.parametrize(("raw", "want"), [
    ("13812345678", "13812345678"),
    ("+86 138-1234-5678", "13812345678"),
    ("0086 138 1234 5678", "13812345678"),
    ("(138) 1234.5678", "13812345678"),
    ("１３８１２３４５６７８", "13812345678"),  # full-width digits
    ('"Zhang Min" <13812345678>', "13812345678"),
    ("sip:+8613812345678@trunk.example;user=phone", "13812345678"),
    ("tel:+44 20 7946 0000", "+442079460000"),
    ("\u00a0138 1234 5678\t", "13812345678"),
])
def test_normalize_caller_ids_of_any_shape(raw: str, want: str) -> None:
    assert normalize_number(raw) == want


@pytest.mark.parametrize("raw", ["", "anonymous", "Anonymous", "unknown", "abc123", "12", "+", "1" * 21,
                                 "1" * 5000, "138;1234", "<>", "sip:@host"])
def test_not_a_number_is_bad_number(raw: str) -> None:
    with pytest.raises(BadNumber):
        normalize_number(raw)


def test_non_strings_are_bad_numbers_not_crashes() -> None:
    for raw in (None, 13812345678, b"13812345678", ["138"]):
        with pytest.raises(BadNumber):
            normalize_number(raw)
        assert PLAN.check(raw, "86").reason == "no_number"


@pytest.mark.parametrize(("raw", "number", "reason"), [
    ("13812345678", "13812345678", None),
    ("+86 199 0000 1111", "19900001111", None),
    ("010 6234 5678", "01062345678", None),
    ("+86 10 6234 5678", "01062345678", None),  # international form of a Beijing landline: trunk 0 back
    ("0086 755 8888 1234", "075588881234", None),
    ("110", "110", "emergency"), ("119", "119", "emergency"), ("120", "120", "emergency"),
    ("122", "122", "emergency"), ("112", "112", "emergency"), ("999", "999", "emergency"),
    ("911", "911", "emergency"),
    ("10086", "10086", "short_code"), ("95588", "95588", "short_code"), ("12345", "12345", "short_code"),
    ("02116812345", "02116812345", "premium"), ("16812345", "16812345", "premium"),
    ("12590123456", "12590123456", "premium"), ("1065712345678", "1065712345678", "premium"),
    ("4008001234", "4008001234", "service_number"),
    ("+447700900123", "+447700900123", "international"),
    ("001 212 555 0100", "+12125550100", "international"),
    ("12012345678", "12012345678", "not_allowed"),  # 11 digits but no mobile prefix
    ("01012345678", "01012345678", "not_allowed"),  # a local number never starts with 1
    ("anonymous", None, "no_number"), ("", None, "no_number"), ("1" * 30, None, "no_number"),
])
def test_the_shipped_plan(raw: str, number: str | None, reason: str | None) -> None:
    verdict = PLAN.check(raw, "86")
    assert (verdict.number, verdict.reason) == (number, reason)


def test_international_only_through_a_rule_and_dialled_with_the_prefix() -> None:
    plan = PLAN.model_copy(update={"international": [
        PLAN.allow[0].model_validate({"name": "hong_kong", "pattern": r"852[2-9]\d{7}"})]})
    assert plan.check("+852 2123 4567", "86").ok
    assert plan.check("+447700900123", "86").reason == "international"
    assert plan.dial_digits("+85221234567") == "0085221234567"
    assert plan.dial_digits("13812345678") == "13812345678"


def test_read_back_digit_by_digit_in_groups() -> None:
    assert spoken_number("13812345678") == "1 3 8, 1 2 3 4, 5 6 7 8"
    assert spoken_number("01062345678") == "0 1 0, 6 2 3 4, 5 6 7 8"
    assert spoken_number("075588881234") == "0 7 5 5, 8 8 8 8, 1 2 3 4"


CALLER_IDS = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789 +-()./<>@:;\"abcsiptel\u00a0１２３", max_size=40),
    st.from_regex(r"(\+86|0086|\+|00)?[ -]?1[0-9]{2}[ -]?[0-9]{4}[ -]?[0-9]{4}", fullmatch=True),
    st.integers(0, 10**25).map(str),
)


@settings(max_examples=400, deadline=None)
@given(CALLER_IDS)
def test_any_caller_id_normalises_or_is_bad_and_the_plan_never_raises(raw: str) -> None:
    try:
        number = normalize_number(raw)
    except BadNumber:
        number = None
    if number is not None:
        assert re.fullmatch(r"\+?[0-9]{3,20}", number), number
        assert normalize_number(number) == number  # idempotent: dedup and VIP keys are stable
    verdict = PLAN.check(raw, "86")
    if verdict.ok:  # only an allowed national number, never an emergency/short/premium one
        assert verdict.number is not None and not verdict.number.startswith("+")
        assert any(rule.matches(verdict.number) for rule in PLAN.allow)
        assert not any(rule.matches(verdict.number) for rule in PLAN.deny)
        assert PLAN.check(verdict.number, "86") == verdict


def issues(text: str) -> list[str]:
    with pytest.raises(QueueConfigError) as info:
        parse_queue_config(textwrap.dedent(text), Path("queues.yaml"))
    assert str(info.value).startswith("queues.yaml: ")
    return info.value.issues


def test_a_bad_pattern_is_named_with_its_field_and_line() -> None:
    bad = CALLBACK_SECTIONS.replace(r"pattern: '1[3-9]\d{9}'", r"pattern: '1[3-9\d{9}'")
    got = issues("queues:\n  support: {}\n" + bad)
    line = ("queues:\n  support: {}\n" + bad).splitlines().index(
        next(x for x in bad.splitlines() if "1[3-9\\d{9}" in x)) + 1
    assert len(got) == 1 and got[0].startswith(f"line {line}: field callback_numbers.allow.0.pattern: ")
    assert "not a valid regular expression" in got[0]


def test_missing_translation_or_unknown_placeholder_is_named() -> None:
    no_english = CALLBACK_SECTIONS.replace(
        '    en-US: "Sorry, that was not a valid choice."\n', "")
    got = issues("queues:\n  support: {}\n" + no_english)
    assert len(got) == 1 and "field callback_texts.invalid" in got[0] and "missing ['en-US']" in got[0]
    typo = CALLBACK_SECTIONS.replace("确认请按{confirm_key}", "确认请按{confrim_key}")
    got = issues("queues:\n  support: {}\n" + typo)
    assert "field callback_texts.confirm" in got[0] and "unknown placeholder(s) ['confrim_key']" in got[0]


def test_every_queues_file_says_what_waiting_callers_hear() -> None:
    got = issues("queues:\n  support: {callback: {enabled: false}}\n")
    assert got == ["line 1: field announcement_texts: Field required"]
    no_english = ANNOUNCEMENT_SECTION.replace(
        '    en-US: "There are {ahead} callers ahead of you."\n', "")
    got = issues("queues:\n  support: {callback: {enabled: false}}\n" + no_english)
    assert len(got) == 1 and "field announcement_texts.ahead_many" in got[0] and "missing ['en-US']" in got[0]
    lost = ANNOUNCEMENT_SECTION.replace("您前面还有{ahead}位客户", "您前面还有几位客户")
    got = issues("queues:\n  support: {callback: {enabled: false}}\n" + lost)
    assert "field announcement_texts.ahead_many" in got[0] and "must say {ahead}" in got[0]


def test_what_callers_hear_is_what_the_yaml_says() -> None:
    words = ANNOUNCEMENT_SECTION.replace("您前面还有{ahead}位客户", "前面还有{ahead}人")
    cfg = parse_queue_config("queues:\n  support: {callback: {enabled: false}}\n" + words, Path("queues.yaml"))
    assert announcement_text(cfg.announcement_texts, 4, None, "zh-CN") == "前面还有3人，感谢您的耐心等待。"


def test_callbacks_need_a_plan_and_texts() -> None:
    got = issues("queues:\n  support: {}\n" + ANNOUNCEMENT_SECTION)
    assert got == ["line 1: field (top level): queue(s) ['support'] offer callbacks: add callback_numbers and "
                   "callback_texts (or set callback.enabled: false)"]
    cfg = parse_queue_config("queues:\n  support: {callback: {enabled: false}}\n" + ANNOUNCEMENT_SECTION,
                             Path("queues.yaml"))
    assert cfg.callback_numbers is None
