"""Facets for what Hubbub posts: byte offsets in UTF-8, mentions only for handles that resolve."""

from __future__ import annotations

from typing import Any

from hubbub.connectors.bluesky.richtext import LINK, MENTION, TAG, byte_offset, facets_for

DIDS = {"jane.bsky.social": "did:plc:jane4x7kq2", "brightwave.bsky.social": "did:plc:bw"}


def resolve(handle: str) -> str | None:
    return DIDS.get(handle)


def covered(text: str, facet: dict[str, Any]) -> str:
    """The text a facet points at, read the way Bluesky reads it: by UTF-8 bytes."""
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"] : index["byteEnd"]].decode("utf-8")


def test_offsets_count_utf8_bytes_not_characters() -> None:
    text = "Désolé 😩 @jane.bsky.social, voir https://brightwave.test/statut?id=7 merci"
    link, mention = sorted(facets_for(text, resolve), key=lambda f: f["features"][0]["$type"])
    assert mention["features"] == [{"$type": MENTION, "did": "did:plc:jane4x7kq2"}]
    assert covered(text, mention) == "@jane.bsky.social"
    # "Désolé 😩 " is 9 characters but 14 bytes: é is 2 bytes, the emoji 4.
    assert mention["index"]["byteStart"] == 14 == byte_offset(text, 9)
    assert link["features"] == [{"$type": LINK, "uri": "https://brightwave.test/statut?id=7"}]
    assert covered(text, link) == "https://brightwave.test/statut?id=7"


def test_facets_come_in_text_order() -> None:
    text = "@jane.bsky.social 👋 see https://brightwave.test and #outage"
    kinds = [facet["features"][0]["$type"] for facet in facets_for(text, resolve)]
    assert kinds == [MENTION, LINK, TAG]


def test_sentence_punctuation_is_not_part_of_a_link() -> None:
    text = "Status page (https://status.brightwave.test/incidents/42). Thanks!"
    (facet,) = facets_for(text, resolve)
    assert facet["features"][0]["uri"] == "https://status.brightwave.test/incidents/42"
    assert covered(text, facet) == "https://status.brightwave.test/incidents/42"


def test_a_handle_that_does_not_resolve_stays_plain_text() -> None:
    assert facets_for("Thanks @nobody.bsky.social!", resolve) == []


def test_an_at_sign_inside_a_link_or_an_address_is_not_a_mention() -> None:
    text = "Mail care@brightwave.test or https://bsky.app/profile/@jane.bsky.social"
    facets = facets_for(text, resolve)
    assert [f["features"][0]["$type"] for f in facets] == [LINK]


def test_tags_leave_out_numbers_and_the_hash() -> None:
    text = "Still down #Brightwave #2 #fibre…"
    tags = [f["features"][0]["tag"] for f in facets_for(text, resolve)]
    assert tags == ["Brightwave", "fibre…"]
