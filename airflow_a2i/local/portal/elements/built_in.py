"""The built-in task types' elements: crowd-textract-analyze-document, crowd-rekognition-detect-moderation-labels."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from airflow_a2i.local.portal.elements.found import Element, _attribute_literal, _first, _one_of, _posted
from airflow_a2i.local.portal.elements.literals import (
    MODERATION_FIELD,
    MODERATION_NONE_FIELD,
    TEXTRACT_FIELD,
    AnswerError,
)
from airflow_a2i.results.built_in import camel_keys, related_ids

_TEXTRACT_POST = ('[{"keyBlockId": "...", "value": "...", "key"?: "..."}, ...] (a pair the worker adds: '
                  '{"key": "...", "value": "..."}, without keyBlockId)')


def _initial_blocks(element: Element) -> dict[str, dict[str, Any]]:
    blocks = camel_keys(_attribute_literal(element, "initial-value"))
    if isinstance(blocks, dict):
        blocks = blocks.get("blocks")
    if not isinstance(blocks, list):
        raise AnswerError(f"the initial-value attribute of {element.describe()} is not a list of Textract blocks: "
                          f"give it task.input.selectedAiServiceResponse.blocks")
    return {str(block.get("id")): block for block in blocks if isinstance(block, dict)}


def _posted_pairs(form: Mapping[str, list[str]], element: Element) -> list[dict[str, str]]:
    text = _first(form, TEXTRACT_FIELD)
    if text is None:
        raise AnswerError(f"the page has {element.describe()} but the form posted no {TEXTRACT_FIELD} field: "
                          f"post {_TEXTRACT_POST} with every key-value pair shown")
    try:
        pairs = json.loads(text)
    except (ValueError, RecursionError):
        pairs = None
    if not isinstance(pairs, list) or not all(_is_posted_pair(pair) for pair in pairs):
        raise AnswerError(f"{TEXTRACT_FIELD} is not {_TEXTRACT_POST}: post that JSON")
    return pairs


def _is_posted_pair(pair: object) -> bool:
    if not isinstance(pair, dict) or not isinstance(pair.get("value"), str):
        return False
    key, key_block_id = pair.get("key"), pair.get("keyBlockId")
    if key_block_id is None:  # added by the worker: the key's text is all there is
        return isinstance(key, str)
    return isinstance(key_block_id, str) and (key is None or isinstance(key, str))


def _reduced(block: dict[str, Any]) -> dict[str, Any]:
    """A block as A2I writes it in an answer: no geometry, no word confidence."""
    kind = block.get("blockType")
    if kind == "WORD":
        return {"blockType": kind, "id": block.get("id"), "text": block.get("text")}
    if kind == "SELECTION_ELEMENT":
        return {"blockType": kind, "id": block.get("id"), "selectionStatus": block.get("selectionStatus")}
    reduced: dict[str, Any] = {"blockType": kind}
    if "confidence" in block:
        reduced["confidence"] = block["confidence"]  # A2I keeps the KEY_VALUE_SET blocks' confidence
    reduced["entityTypes"] = list(block.get("entityTypes") or [])
    reduced["id"] = block.get("id")
    reduced["relationships"] = [{"ids": list(relationship.get("ids") or []), "type": relationship.get("type")}
                                for relationship in block.get("relationships") or []
                                if isinstance(relationship, dict) and relationship.get("type") in ("VALUE", "CHILD")]
    return reduced


class _TextractAnswer:
    """The blocks of one Textract answer, built pair by pair from the element's blocks."""

    def __init__(self, element: Element, blocks: dict[str, dict[str, Any]]):
        self.element = element
        self.blocks = blocks
        self.answer: dict[str, dict[str, Any]] = {}  # by id, in the order A2I writes them

    def child_words(self, block: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        words, children = [], []
        for child in (self.blocks.get(child_id) for child_id in related_ids(block, "CHILD")):
            if child is None or child.get("blockType") not in ("WORD", "SELECTION_ELEMENT"):
                continue
            children.append(_reduced(child))
            if child.get("blockType") == "WORD" and child.get("text"):
                words.append(str(child["text"]))
            elif child.get("blockType") == "SELECTION_ELEMENT" and child.get("selectionStatus"):
                words.append(str(child["selectionStatus"]))
        return " ".join(words), children

    def with_text(self, block: dict[str, Any], text: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The reduced block and its CHILD blocks; when ``text`` changes it, new WORD blocks for the new text."""
        reduced = _reduced(block)
        current, children = self.child_words(block)
        if text is None or " ".join(text.split()) == current:
            return reduced, children
        words = _new_words(text)
        relationships = [relationship for relationship in reduced["relationships"] if relationship["type"] != "CHILD"]
        if words:
            relationships.append({"ids": [word["id"] for word in words], "type": "CHILD"})
        reduced["relationships"] = relationships
        return reduced, words

    def value_block(self, key: dict[str, Any]) -> dict[str, Any]:
        """The KEY's first VALUE block; a new one (linked from ``key``) when Textract found no value."""
        value_ids = related_ids(key, "VALUE")
        if value_ids and value_ids[0] in self.blocks:
            return self.blocks[value_ids[0]]
        block_id = value_ids[0] if value_ids else str(uuid.uuid4())
        if not value_ids:
            key["relationships"] = [{"ids": [block_id], "type": "VALUE"}, *key["relationships"]]
        return {"blockType": "KEY_VALUE_SET", "entityTypes": ["VALUE"], "id": block_id, "relationships": []}

    def add_pair(self, key_block_id: str, value: str, key_text: str | None) -> None:
        key_block = self.blocks.get(key_block_id)
        if key_block is None or key_block.get("blockType") != "KEY_VALUE_SET" or \
                "KEY" not in (key_block.get("entityTypes") or []):
            raise AnswerError(f"keyBlockId {key_block_id!r} posted in {TEXTRACT_FIELD} is not a KEY block of "
                              f"{self.element.describe()}'s initial-value: post the id of a KEY_VALUE_SET KEY block")
        key, key_words = self.with_text(key_block, key_text)
        if not related_ids(key, "VALUE") and not value.strip():
            blocks = [*key_words, key]  # no value found, none given: no VALUE block to write
        else:
            value_block, value_words = self.with_text(self.value_block(key), value)
            blocks = [*key_words, *value_words, key, value_block]
        self.write(blocks)

    def add_new_pair(self, key_text: str, value: str) -> None:
        """A pair the worker added (a key the machine did not find), as A2I writes one: new WORD blocks for
        the key's and the value's words, a KEY and a VALUE block with new ids, relationships but no geometry
        and no confidence."""
        if not key_text.strip():
            raise AnswerError(f"a pair added in {TEXTRACT_FIELD} for {self.element.describe()} has no key: post "
                              f'{{"key": "the key\'s text", "value": "..."}}, or leave the pair out')
        key_words, value_words = _new_words(key_text), _new_words(value)
        value_block = _new_key_value_set("VALUE", [])
        if value_words:
            value_block["relationships"] = [{"ids": [word["id"] for word in value_words], "type": "CHILD"}]
        key = _new_key_value_set("KEY", [{"ids": [value_block["id"]], "type": "VALUE"},
                                         {"ids": [word["id"] for word in key_words], "type": "CHILD"}])
        self.write([*key_words, *value_words, key, value_block])

    def write(self, blocks: list[dict[str, Any]]) -> None:
        for block in blocks:
            self.answer.setdefault(str(block["id"]), block)


def _new_words(text: str) -> list[dict[str, Any]]:
    return [{"blockType": "WORD", "id": str(uuid.uuid4()), "text": token} for token in text.split()]


def _new_key_value_set(entity_type: str, relationships: list[dict[str, Any]]) -> dict[str, Any]:
    return {"blockType": "KEY_VALUE_SET", "entityTypes": [entity_type], "id": str(uuid.uuid4()),
            "relationships": relationships}


def _textract(element: Element, form: Mapping[str, list[str]]) -> Any:
    answer = _TextractAnswer(element, _initial_blocks(element))
    seen: set[str] = set()
    for pair in _posted_pairs(form, element):
        if pair.get("keyBlockId") is None:
            answer.add_new_pair(pair["key"], pair["value"])
            continue
        if pair["keyBlockId"] in seen:
            raise AnswerError(f"keyBlockId {pair['keyBlockId']!r} is posted twice in {TEXTRACT_FIELD}: "
                              f"post each key-value pair once")
        seen.add(pair["keyBlockId"])
        answer.add_pair(pair["keyBlockId"], pair["value"], pair.get("key"))
    return {"blocks": list(answer.answer.values())}


def _moderation_categories(element: Element) -> dict[str, str]:
    categories = _attribute_literal(element, "categories")
    if not isinstance(categories, list):
        raise AnswerError(f"the categories attribute of {element.describe()} is not a list: fix it in the template")
    parents: dict[str, str] = {}
    for category in categories:
        if isinstance(category, dict) and camel_keys(category).get("name"):
            category = camel_keys(category)
            parents.setdefault(str(category["name"]), str(category.get("parentName") or ""))
    return parents


def _moderation(element: Element, form: Mapping[str, list[str]]) -> Any:
    parents = _moderation_categories(element)
    chosen = [name for name in dict.fromkeys(_posted(form, MODERATION_FIELD)) if name]
    if chosen and _posted(form, MODERATION_NONE_FIELD):
        raise AnswerError(f"both {MODERATION_FIELD} labels and {MODERATION_NONE_FIELD} were posted for "
                          f"{element.describe()}: post either the labels that apply or none of them")
    for name in chosen:
        _one_of(element, name, list(parents), "categories")
    return {"moderationLabels": [{"name": name, "parentName": parents[name]} for name in parents if name in chosen]}
