"""Redaction of text as recognizers write it: many positive and negative cases."""

from __future__ import annotations

import pytest

from ivr.privacy.numbers import classify, find_runs
from ivr.privacy.redact import find_sensitive, redact_text

pytestmark = pytest.mark.timeout(10)

PHONES = [
    ("我的手机号是13812345678", "我的手机号是[PHONE]"),
    ("电话 138 1234 5678 谢谢", "电话 [PHONE] 谢谢"),
    ("电话 138-1234-5678", "电话 [PHONE]"),
    ("电话 138 - 1234 - 5678", "电话 [PHONE]"),
    ("1 3 8 1 2 3 4 5 6 7 8", "[PHONE]"),
    ("幺三八幺二三四五六七八", "[PHONE]"),
    ("一三八一二三四五六七八", "[PHONE]"),
    ("一 三 八 一 二 三 四 五 六 七 八", "[PHONE]"),
    ("幺三八，一二三四，五六七八", "[PHONE]"),
    ("号码是幺三八 零零零零 幺幺幺幺", "号码是[PHONE]"),
    ("１３８１２３４５６７８", "[PHONE]"),
    ("+86 138 1234 5678", "[PHONE]"),
    ("0086 13812345678", "[PHONE]"),
    ("座机 021-12345678", "座机 [PHONE]"),
    ("座机 零二一 八七六五四三二一", "座机 [PHONE]"),
    ("local number 8765 4321", "local number [PHONE]"),
    ("my number is one three eight one two three four five six seven eight", "my number is [PHONE]"),
    ("call me on oh two one double five triple eight nine", "call me on [PHONE]"),
    ("One Three Eight, one two three four, five six seven eight", "[PHONE]"),
    ("138 one two three 4567 8", "[PHONE]"),
    ("幺三八 1234 five six seven eight", "[PHONE]"),
]

IDS = [
    ("身份证号110101199003071234", "身份证号[ID]"),
    ("身份证 11010119900307123X 好的", "身份证 [ID] 好的"),
    ("身份证 11010119900307123x", "身份证 [ID]"),
    ("id 110101 19900307 1234", "id [ID]"),
    ("幺幺零幺零幺幺九九零零三零七幺二三四", "[ID]"),
    ("一一零一零一一九九零零三零七一二三叉", "[ID]"),
    ("one one zero one zero one one nine nine zero zero three zero seven one two three four", "[ID]"),
]

CARDS = [
    ("卡号 6222 0212 3456 7890", "卡号 [CARD]"),
    ("card 6222-0212-3456-7890-123", "card [CARD]"),
    ("卡号六二二二零二一二三四五六七八九零", "卡号[CARD]"),
    ("four five six seven eight nine zero one two three four five six seven eight nine", "[CARD]"),
    ("6222021234567890123", "[CARD]"),
]

EMAILS = [
    ("email zhang.san@qq.com ok", "email [EMAIL] ok"),
    ("邮箱ZHANGSAN@163.COM", "邮箱[EMAIL]"),
    ("邮箱 zhang_san+hotline@mail.example.com.cn 谢谢", "邮箱 [EMAIL] 谢谢"),
    ("my email is john dot smith at gmail dot com thanks", "my email is [EMAIL] thanks"),
    ("send it to john at company dot com dot cn", "send it to [EMAIL]"),
    ("j o h n at gmail dot com", "[EMAIL]"),
    ("邮箱是幺二三四五六艾特qq点com", "邮箱是[EMAIL]"),
    ("邮箱 zhangsan 艾特 qq 点 com", "邮箱 [EMAIL]"),
    ("one two three four five six at qq dot com", "[EMAIL]"),
    ("zhangsan at one six three dot com", "[EMAIL]"),
    ("邮箱 zhangsan@qq点com", "邮箱 [EMAIL]"),
]

ORDINARY = [
    "我要买3个，一共128元，订单号12345",
    "订单号 123456",
    "订单号幺二三四五六",
    "时间是2024-05-01 10:30",
    "明天下午3点，14:30:00 之前",
    "2024年5月1日",
    "二零二四年五月一日",
    "一百二十三块",
    "三千五百块钱",
    "两个人，三天",
    "我想查一下订单",
    "一会儿，一样，统一处理",
    "i want two apples and three pears",
    "it costs twenty five dollars",
    "oh I see, oh no",
    "room 1203 on floor 12",
    "amount 12,345,678 yuan",
    "1,234,567",
    "3.14 and 2.5",
    "6 x 7 = 42",
    "we are open 9 to 5, 6 days a week",
    "价格 99.9 元",
    "the box is 20 by 30 by 40",
    "let me look at it",
    "meet at noon, thanks",
    "double check please",
    "第1 2 3条",
]


@pytest.mark.parametrize(("text", "expected"), PHONES + IDS + CARDS + EMAILS)
def test_sensitive_is_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_numbers_stay(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("13812345678", "PHONE"),
        ("110101199003071234", "ID"),
        ("11010119900307123X", "ID"),
        ("6222021234567890", "CARD"),
        ("622202123456789012", "CARD"),  # 18 digits but no valid birth date: a card, not an ID
        ("1234567890123", "NUMBER"),
    ],
)
def test_classification(text: str, label: str) -> None:
    runs = find_runs(text)
    assert len(runs) == 1 and classify(runs[0]) == label


def test_runs_keep_exact_spans_and_digits() -> None:
    text = "call 138 1234 5678 now"
    (run,) = [r for r in find_runs(text) if classify(r)]
    assert run.digits == "13812345678"
    assert text[run.start : run.end] == "138 1234 5678"
    assert run.groups == (11,)


def test_several_items_in_one_text() -> None:
    text = "电话13812345678，邮箱a@b.com，卡号6222 0212 3456 7890，买3个"
    assert redact_text(text) == "电话[PHONE]，邮箱[EMAIL]，卡号[CARD]，买3个"
    assert [s.label for s in find_sensitive(text)] == ["PHONE", "EMAIL", "CARD"]


def test_a_long_pause_mark_separates_numbers() -> None:
    # "|" is what the transcript redaction puts between utterances far apart in time.
    assert redact_text("138 123 | 4567") == "138 123 | 4567"
    assert redact_text("138 123 4567") == "[PHONE]"


def test_newlines_do_not_split_a_number() -> None:
    assert redact_text("number 138 1234\n5678") == "number [PHONE]"


def test_empty_and_plain_text() -> None:
    assert redact_text("") == ""
    assert redact_text("您好，请问有什么可以帮您？") == "您好，请问有什么可以帮您？"
