"""続柄: the closed list, its normalisation, certificate order and draft codes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jichitai.platform.jp import (
    RELATIONSHIP_CODES,
    JpValueError,
    relationship_codes,
    relationship_order_key,
    validate_relationship,
)

PROPERTY = settings(database=None, deadline=None)
KIN = ["夫", "妻", "子", "父", "母", "兄", "姉", "弟", "妹"]
BASE = [
    "世帯主",
    "夫",
    "妻",
    "夫（未届）",
    "妻（未届）",
    "子",
    "父",
    "母",
    "兄",
    "姉",
    "弟",
    "妹",
    "縁故者",
    "同居人",
]


@pytest.mark.parametrize("label", BASE)
def test_base_labels_are_accepted_unchanged(label: str) -> None:
    assert validate_relationship(label) == label


@pytest.mark.parametrize(
    ("label", "normalized"),
    [
        ("夫(未届)", "夫（未届）"),
        ("妻(未届)", "妻（未届）"),
        ("妻（未届）", "妻（未届）"),
        ("妻(未届)の子", "妻（未届）の子"),
        (" 子 の 妻 ", "子の妻"),
        ("子の夫", "子の夫"),
        ("父の母", "父の母"),
        ("子の子の子の子", "子の子の子の子"),
        ("妻の兄の子の妻", "妻の兄の子の妻"),
    ],
)
def test_chains_and_normalisation(label: str, normalized: str) -> None:
    assert validate_relationship(label) == normalized


@pytest.mark.parametrize(
    "label",
    [
        "子の子の子の子の子",
        "祖父",
        "祖母",
        "孫",
        "甥",
        "姪",
        "準世帯主",
        "長男",
        "養子",
        "世帯主の子",
        "子の世帯主",
        "子の縁故者",
        "縁故者の子",
        "同居人の子",
        "子の妻(未届)",
        "子の妻（未届）",
        "子（未届）",
        "夫（未届）（未届）",
        "夫(未届",
        "",
        "の",
        "子の",
        "の子",
        "子のの子",
    ],
)
def test_labels_outside_the_list_are_refused(label: str) -> None:
    with pytest.raises(JpValueError) as exc:
        validate_relationship(label)
    assert exc.value.code == "unknown_relationship"
    assert exc.value.message.startswith("続柄が正しくありません。")


chains = st.lists(st.sampled_from(KIN), min_size=1, max_size=4).map("の".join)


@PROPERTY
@given(chains)
def test_every_chain_up_to_four_links_is_valid(label: str) -> None:
    assert validate_relationship(label) == label
    assert len(relationship_codes(label)) == label.count("の") + 1


@PROPERTY
@given(st.lists(st.sampled_from(KIN), min_size=5, max_size=8).map("の".join))
def test_chains_longer_than_four_links_are_refused(label: str) -> None:
    with pytest.raises(JpValueError):
        validate_relationship(label)


@PROPERTY
@given(
    st.lists(st.sampled_from(KIN), min_size=1, max_size=3),
    st.sampled_from(["世帯主", "縁故者", "同居人"]),
    st.integers(0, 3),
)
def test_standalone_labels_never_appear_inside_a_chain(links: list[str], standalone: str, at: int) -> None:
    links.insert(at % (len(links) + 1), standalone)
    with pytest.raises(JpValueError):
        validate_relationship("の".join(links))


@PROPERTY
@given(st.sampled_from(["夫", "妻"]), st.lists(st.sampled_from(KIN), max_size=3))
def test_unregistered_marker_allowed_on_the_first_link(first: str, rest: list[str]) -> None:
    label = "の".join([f"{first}(未届)", *rest])
    assert validate_relationship(label) == label.replace("(", "（").replace(")", "）")


def test_relationship_codes_table() -> None:
    assert RELATIONSHIP_CODES == {
        "世帯主": "02",
        "夫": "11",
        "妻": "12",
        "夫（未届）": "13",
        "妻（未届）": "14",
        "子": "20",
        "父": "51",
        "母": "52",
        "兄": "71",
        "弟": "74",
        "姉": "81",
        "妹": "84",
        "縁故者": "96",
        "同居人": "99",
    }


@pytest.mark.parametrize(
    ("label", "codes"),
    [
        ("世帯主", ("02",)),
        ("子の妻", ("20", "12")),
        ("夫(未届)", ("13",)),
        ("妻（未届）の子", ("14", "20")),
        ("子の子の子の子", ("20", "20", "20", "20")),
        ("父の母", ("51", "52")),
        ("同居人", ("99",)),
    ],
)
def test_relationship_codes(label: str, codes: tuple[str, ...]) -> None:
    assert relationship_codes(label) == codes


def test_relationship_codes_refuse_unknown_labels() -> None:
    with pytest.raises(JpValueError):
        relationship_codes("孫")


@pytest.mark.parametrize(
    ("label", "group"),
    [
        ("世帯主", 1),
        ("夫", 2),
        ("妻", 2),
        ("夫(未届)", 2),
        ("妻（未届）", 2),
        ("子", 3),
        ("子の夫", 4),
        ("子の妻", 4),
        ("子の子", 4),
        ("子の子の子の子", 4),
        ("父", 5),
        ("母", 5),
        ("兄", 6),
        ("姉", 6),
        ("弟", 6),
        ("妹", 6),
        ("父の父", 7),
        ("父の母", 7),
        ("母の父", 7),
        ("母の母", 7),
        ("妻の父", 8),
        ("兄の妻", 8),
        ("父の父の父", 8),
        ("妻（未届）の子", 8),
        ("縁故者", 9),
        ("同居人", 10),
    ],
)
def test_order_groups(label: str, group: int) -> None:
    assert relationship_order_key(label)[0] == group


def test_household_sorts_in_certificate_order() -> None:
    household = ["同居人", "子の子", "母", "妹", "縁故者", "妻の母", "子の妻", "父の父", "子", "妻", "世帯主"]
    ordered = sorted(household, key=relationship_order_key)
    assert ordered == [
        "世帯主",
        "妻",
        "子",
        "子の妻",
        "子の子",
        "母",
        "妹",
        "父の父",
        "妻の母",
        "縁故者",
        "同居人",
    ]


def test_child_family_orders_by_generation() -> None:
    labels = ["子の子の子", "子の子の妻", "子の子", "子の夫"]
    assert sorted(labels, key=relationship_order_key) == ["子の夫", "子の子", "子の子の妻", "子の子の子"]


def test_order_key_refuses_unknown_labels() -> None:
    with pytest.raises(JpValueError):
        relationship_order_key("祖父")
