"""Built-in task types (Textract, Rekognition): the people's corrections merged into the machine's result.

Only the standard library is imported, so this module is cheap to import at DAG parse time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_a2i.request_sources import REKOGNITION_SOURCE, TEXTRACT_SOURCE


def camel_keys(value: Any) -> Any:
    """The same JSON with camelCase keys, as A2I writes AI service responses (``BlockType`` -> ``blockType``)."""
    if isinstance(value, dict):
        return {(key[:1].lower() + key[1:]) if isinstance(key, str) else key: camel_keys(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


def response_source(response: object) -> str | None:
    """The request source a Textract or Rekognition response (either spelling) belongs to, or None."""
    if not isinstance(response, dict):
        return None
    keys = {key[:1].lower() + key[1:] for key in response if isinstance(key, str)}
    if "blocks" in keys:
        return TEXTRACT_SOURCE
    if "moderationLabels" in keys:
        return REKOGNITION_SOURCE
    return None


def built_in_answer(consolidated: object, source: str) -> dict[str, Any] | None:
    """The reviewer's part of a built-in loop's (consolidated) answer: ``answerContent[source]``.

    A2I keys built-in answers by the request source; an answer that is not keyed so but has the
    source's member (``blocks``, ``moderationLabels``) is taken as it is.
    """
    if not isinstance(consolidated, dict):
        return None
    keyed = consolidated.get(source)
    if isinstance(keyed, dict):
        return keyed
    member = "blocks" if source == TEXTRACT_SOURCE else "moderationLabels"
    return consolidated if member in consolidated else None


def merge_blocks(machine: list[dict[str, Any]], corrected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Textract blocks after review: a corrected block replaces the machine's block of the same id, new ones
    are added at the end (both lists camelCase)."""
    by_id = {block.get("id"): block for block in corrected if isinstance(block, dict)}
    merged = [by_id.pop(block.get("id"), block) for block in machine]
    return merged + list(by_id.values())


def related_ids(block: dict[str, Any], kind: str) -> list[str]:
    """The ids a camelCase Textract block relates to as ``kind`` (``CHILD``, ``VALUE``)."""
    return [str(block_id) for relationship in block.get("relationships") or []
            if isinstance(relationship, dict) and relationship.get("type") == kind
            for block_id in relationship.get("ids") or []]


@dataclass(frozen=True)
class _FormPair:
    key: str
    value: str
    confidence: float | None
    ids: frozenset[str]  # the KEY block, its VALUE blocks and the CHILD blocks of both


def _form_pairs(blocks: list[dict[str, Any]]) -> dict[str, _FormPair]:
    """Key-value pairs of camelCase Textract blocks, by the KEY block's id, in the blocks' order."""
    by_id = {str(block.get("id")): block for block in blocks if isinstance(block, dict)}

    def text(block: dict[str, Any]) -> tuple[str, list[str]]:
        words, ids = [], []
        for child_id in related_ids(block, "CHILD"):
            child = by_id.get(child_id)
            if child is None:
                continue
            ids.append(child_id)
            if child.get("blockType") == "WORD" and child.get("text"):
                words.append(str(child["text"]))
            elif child.get("blockType") == "SELECTION_ELEMENT" and child.get("selectionStatus"):
                words.append(str(child["selectionStatus"]))
        return " ".join(words), ids

    pairs: dict[str, _FormPair] = {}
    for block_id, block in by_id.items():
        if block.get("blockType") != "KEY_VALUE_SET" or "KEY" not in (block.get("entityTypes") or []):
            continue
        key_text, ids = text(block)
        values = []
        for value_id in related_ids(block, "VALUE"):
            value = by_id.get(value_id)
            if value is not None:
                value_text, value_ids = text(value)
                values.append(value_text)
                ids += [value_id, *value_ids]
        confidence = block.get("confidence")
        pairs[block_id] = _FormPair(key=key_text, value=" ".join(part for part in values if part),
                                    confidence=float(confidence) if isinstance(confidence, int | float) else None,
                                    ids=frozenset([block_id, *ids]))
    return pairs


def textract_fields(machine_response: dict[str, Any], answer: dict[str, Any] | None) -> list[dict[str, Any]]:
    """
    The form fields of a Textract result, with the reviewer's corrections.

    ``machine_response`` is AnalyzeDocument's response (either spelling); ``answer`` the reviewer's
    ``{"blocks": [...]}``, or None when nobody reviewed. One entry per key-value pair:
    ``key`` (its CHILD words joined by spaces, as corrected), ``machine_value``, ``machine_confidence``
    (the KEY block's), ``human_value`` (null unless reviewed), ``reviewed`` (a block of the pair is in the
    answer), ``corrected`` (reviewed, and the key or value text changed) and ``added_by_reviewer`` (a
    pair the machine did not find, whose KEY block a person added: a missing important key, say). Pairs
    the reviewer added come last, with a null ``machine_value`` and ``machine_confidence``.
    """
    machine_blocks = [block for block in camel_keys(machine_response).get("blocks") or [] if isinstance(block, dict)]
    corrected = [block for block in (answer or {}).get("blocks") or [] if isinstance(block, dict)]
    answered = {str(block.get("id")) for block in corrected}
    machine = _form_pairs(machine_blocks)
    merged = _form_pairs(merge_blocks(machine_blocks, corrected))
    fields = []
    for key_id in [*machine, *(key_id for key_id in merged if key_id not in machine)]:
        before, after = machine.get(key_id), merged.get(key_id)
        reviewed = answer is not None and bool(((before.ids if before else frozenset()) |
                                                (after.ids if after else frozenset())) & answered)
        shown = after if reviewed and after is not None else before
        assert shown is not None
        fields.append({
            "key": shown.key,
            "machine_value": before.value if before else None,
            "machine_confidence": before.confidence if before else None,
            "human_value": after.value if reviewed and after is not None else None,
            "reviewed": reviewed,
            "corrected": reviewed and (before is None or after is None or (before.key, before.value) !=
                                       (after.key, after.value)),
            "added_by_reviewer": before is None,
        })
    return fields


def moderation_labels(machine_response: dict[str, Any], answer: dict[str, Any] | None,
                      shown: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """
    The moderation labels of a Rekognition result, with the reviewer's verdict on each.

    ``answer`` is the reviewer's ``{"moderationLabels": [{"name", "parentName"}]}`` (the labels that apply),
    or None when nobody reviewed; ``shown`` the loop's ``selectedAiServiceResponse`` (the labels the
    reviewer was asked about). One entry per label: ``name``, ``parent_name``, ``machine_confidence``
    and ``kept_by_reviewer``: true when the reviewer chose it, false when they were shown it and did not,
    null when nobody reviewed it (no answer, or a label the reviewer was not shown and did not choose).
    Labels the reviewer chose that the machine did not report come last, with a null ``machine_confidence``.
    """
    machine = [label for label in camel_keys(machine_response).get("moderationLabels") or []
               if isinstance(label, dict)]
    chosen: dict[str, dict[str, Any]] = {}
    if answer is not None:
        for label in camel_keys(answer).get("moderationLabels") or []:
            if isinstance(label, dict) and label.get("name"):
                chosen.setdefault(str(label["name"]), label)
    asked = {str(label.get("name")) for label in camel_keys(shown or {}).get("moderationLabels") or []
             if isinstance(label, dict)}
    if shown is None and answer is not None:
        asked = {str(label.get("name")) for label in machine}  # not known: every label was shown
    labels = []
    for label in machine:
        name = str(label.get("name", ""))
        confidence = label.get("confidence")
        kept: bool | None = None
        if name in chosen:
            kept = True
        elif answer is not None and name in asked:
            kept = False
        labels.append({"name": name, "parent_name": label.get("parentName") or "",
                       "machine_confidence": float(confidence) if isinstance(confidence, int | float) else None,
                       "kept_by_reviewer": kept})
    known = {label["name"] for label in labels}
    labels += [{"name": name, "parent_name": label.get("parentName") or "", "machine_confidence": None,
                "kept_by_reviewer": True} for name, label in chosen.items() if name not in known]
    return labels


def sampled_by_condition_results(condition_results: object) -> bool | None:
    """Whether a top-level ``Sampling`` condition started the loop, read off the loop's
    ``humanTaskActivationConditionResults`` (None when there are none, as for custom task types).

    A loop drawn so was sent to review by chance, whatever its confidences: what the review report estimates
    the errors nobody reviewed from. A Sampling inside an ``And`` only gates other conditions: not counted.
    """
    if not isinstance(condition_results, dict) or not isinstance(condition_results.get("Conditions"), list):
        return None
    return any(isinstance(item, dict) and item.get("ConditionType") == "Sampling" and item.get("EvaluationResult")
               is True for item in condition_results["Conditions"])


def final_labels(labels: list[dict[str, Any]]) -> list[str]:
    """The names of the labels that stand: chosen by the reviewer, or reported and not reviewed."""
    return [label["name"] for label in labels if label["kept_by_reviewer"] is not False]
