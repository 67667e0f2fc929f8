"""Generated results with known truth for the review report's tests.

Each page is a Textract AnalyzeDocument response (KEY and VALUE blocks with their words) whose fields the machine
read right or wrong, with a confidence that tells errors apart only in part (as in life: many misreads are read
with high confidence). The activation conditions are evaluated by the project's own evaluator, as A2I would; the
selected pairs get the true values from a "reviewer", and the rows are what the results operator writes
(``textract_fields`` merges the answer). The truth of every field is kept for the checks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from airflow_a2i.activation import ResponseDocument, evaluate, parse_conditions
from airflow_a2i.activation.model import TEXTRACT, Conditions
from airflow_a2i.results.built_in import camel_keys, sampled_by_condition_results, textract_fields

KEYS = {"Invoice Number": 0.03, "Date": 0.05, "Total": 0.12, "Name": 0.04, "Address": 0.10, "Account": 0.02}


def conditions(threshold: float = 80, sampling: float = 10) -> Conditions:
    items: list[dict[str, Any]] = [{"ConditionType": "ImportantFormKeyConfidenceCheck", "ConditionParameters": {
        "ImportantFormKey": "*", "KeyValueBlockConfidenceLessThan": threshold}}]
    if sampling:
        items.append({"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": sampling}})
    return parse_conditions({"Conditions": items}, TEXTRACT)


@dataclass
class GeneratedPage:
    response: dict[str, Any]
    truth: dict[str, str]  # key -> true value
    machine: dict[str, str]  # key -> what the machine read
    key_ids: dict[str, str]  # key -> its KEY block id

    @property
    def wrong(self) -> set[str]:
        return {key for key, value in self.machine.items() if value != self.truth[key]}


def _confidence(rng: random.Random, wrong: bool) -> float:
    if wrong:  # half of the misreads look as sure as right readings
        return round(rng.uniform(30, 85) if rng.random() < 0.5 else rng.uniform(90, 99.9), 3)
    return round(rng.uniform(55, 90) if rng.random() < 0.08 else rng.uniform(90, 99.9), 3)


def generate_pages(seed: int, count: int) -> list[GeneratedPage]:
    rng = random.Random(seed)
    pages = []
    for index in range(count):
        blocks: list[dict[str, Any]] = [{"BlockType": "PAGE", "Id": f"p{seed}-{index}", "Confidence": 99.9}]
        truth, machine, key_ids = {}, {}, {}
        for number, key in enumerate(sorted(rng.sample(sorted(KEYS), rng.randint(3, len(KEYS))))):
            value = f"V{seed}x{index}x{number}"
            wrong = rng.random() < KEYS[key]
            read = value + "?" if wrong else value
            confidence = _confidence(rng, wrong)
            ident = f"{seed}-{index}-{number}"
            key_words = [{"BlockType": "WORD", "Id": f"kw{ident}-{part}", "Text": word, "Confidence": 99.5}
                         for part, word in enumerate(key.split())]
            value_word = {"BlockType": "WORD", "Id": f"vw{ident}", "Text": read, "Confidence": 99.5}
            blocks += [
                {"BlockType": "KEY_VALUE_SET", "Id": f"k{ident}", "EntityTypes": ["KEY"], "Confidence": confidence,
                 "Relationships": [{"Type": "VALUE", "Ids": [f"v{ident}"]},
                                   {"Type": "CHILD", "Ids": [word["Id"] for word in key_words]}]},
                {"BlockType": "KEY_VALUE_SET", "Id": f"v{ident}", "EntityTypes": ["VALUE"], "Confidence": confidence,
                 "Relationships": [{"Type": "CHILD", "Ids": [f"vw{ident}"]}]},
                *key_words, value_word]
            truth[key], machine[key], key_ids[key] = value, read, f"k{ident}"
        pages.append(GeneratedPage({"Blocks": blocks, "DocumentMetadata": {"Pages": 1}}, truth, machine, key_ids))
    return pages


def reviewed_answer(page: GeneratedPage, selected: dict[str, Any]) -> dict[str, Any]:
    """A reviewer's answer: the selected blocks (A2I's camelCase), each value word set to the truth."""
    true_text = {f"vw{page.key_ids[key][1:]}": value for key, value in page.truth.items()}
    blocks = []
    for block in camel_keys(selected).get("blocks") or []:
        block = dict(block)
        if block.get("id") in true_text:
            block["text"] = true_text[block["id"]]
        blocks.append(block)
    return {"blocks": blocks}


def result_rows(pages: list[GeneratedPage], current: Conditions, seed: int = 0,
                workers: int = 3, task_count: int = 1) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The results rows of the pages reviewed under ``current``, and per page the truth of each field:
    ``{"key", "wrong", "reviewed"}``."""
    rng = random.Random(seed)
    rows, truths = [], []
    for index, page in enumerate(pages):
        result = evaluate(current, page.response)
        answer = reviewed_answer(page, result.selected_response) if result.activated else None
        fields = textract_fields(page.response, answer)
        name = f"loop-{seed}-{index}" if result.activated else None
        answers = [{"worker_id": f"worker-{rng.randrange(workers)}", "submission_time": "2026-01-01T00:00:00Z",
                    "time_spent_in_seconds": round(rng.lognormvariate(3, 0.5), 2), "answer": answer}
                   for _ in range(task_count)] if name else None
        rows.append({
            "item_key": f"s3://bucket/doc-{seed}-{index // 2}.pdf#{index % 2 + 1}", "human_loop_name": name,
            "status": "Completed" if name else None, "output_error": None, "answers": answers,
            "agreement": (1.0 if rng.random() < 0.8 else 0.5) if name else None, "ties": [] if name else None,
            "activation_results": result.condition_results if name else None,
            "document": f"s3://bucket/doc-{seed}-{index // 2}.pdf", "page": index % 2 + 1,
            "review_reasons": result.reasons or None, "request_source": TEXTRACT, "fields": fields,
            "sampled": sampled_by_condition_results(result.condition_results) if name else False})
        reviewed = {field["key"] for field in fields if field["reviewed"]}
        truths.append([{"key": key, "wrong": key in page.wrong, "reviewed": key in reviewed} for key in page.truth])
    return rows, truths


def response_documents(pages: list[GeneratedPage], prefix: str = "held-out") -> list[ResponseDocument]:
    return [ResponseDocument(f"{prefix}-{index}.json", page.response, None, TEXTRACT)
            for index, page in enumerate(pages)]


def accuracy_under(selected_keys: list[set[str]], pages: list[GeneratedPage]) -> float:
    """The field accuracy after review when the selected keys of each page are reviewed (and then right)."""
    total = sum(len(page.truth) for page in pages)
    left = sum(1 for page, keys in zip(pages, selected_keys, strict=True) for key in page.wrong if key not in keys)
    return 1 - left / total
