"""Synthetic sample documents for the batch document review demo: forms, their Textract analyses, ground truth.

A fixed seed makes everything: the same seed gives byte-identical files, and nothing depends on the clock.
Each document is a form (invoice, expense claim, employment application, purchase order) with names, dates and
amounts; about a fifth are multi-page PDFs (2-4 pages, fields spread across them), the rest single-page PDFs or
PNGs. Every page has a Textract ``AnalyzeDocument`` (FORMS) response in the real block structure (PAGE, LINE,
WORD, KEY_VALUE_SET with KEY/VALUE/CHILD relationships and geometry) as if that page alone had been analysed,
with Textract's failings mixed in: some key-value pairs read with low confidence, some values misread
(8 for B, O for 0, a dropped digit...), some keys not detected at all.

Layout written by :func:`write_samples` under ``out`` (default ``.demo/samples``)::

    documents/<folder>/doc-NNNN.pdf|png   the documents; a document's key D is this relative path
    analyses/<D>.page-PPPP.textract.json  a PDF's page P (1-based, PDF page index P-1), every PDF even of one page
    analyses/<D>.textract.json            a PNG (one page, analysed as it is)
    ground_truth.jsonl                    one JSON object per document, sorted by document key
    summary.json                          the seed and the counts

``analyses/`` mirrors ``documents/``: upload both onto the same input prefix and every analysis lies where the
local service looks (:class:`~airflow_a2i.local.builtin.StoredResponseAnalyzer`): beside a PNG,
``<key>.textract.json``; for a page the pipeline split from a PDF (its S3 metadata ``a2i-source-document`` and
``a2i-source-page``), ``<source key>.page-PPPP.textract.json`` beside the source document. Batch listings skip
``*.textract.json``. :func:`analysis_key` gives the name. Each analysis is a complete single-page
AnalyzeDocument response (``DocumentMetadata.Pages`` 1, blocks on ``Page`` 1), as Textract returns for that page.

Workers are simulated with :func:`corrected_blocks` (A2I's answer for selected blocks, values set to the truth)
and :func:`ground_truth_answer`, an answer callable for the local service's simulated workforce.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import functools
import io
import json
import os
import random
import shutil
import struct
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_a2i.stored_analyses import page_analysis_key, whole_document_analysis_key

DEFAULT_SEED = 2024
DEFAULT_COUNT = 60
DEFAULT_OUT = Path(".demo/samples")
DOCUMENTS_DIR = "documents"
ANALYSES_DIR = "analyses"
GROUND_TRUTH_FILE = "ground_truth.jsonl"
SUMMARY_FILE = "summary.json"
GROUND_TRUTH_ENV = "AIRFLOW_A2I_SAMPLES_GROUND_TRUTH"

MULTI_PAGE_SHARE = 0.2
PNG_SHARE = 0.5  # of the single-page documents
# Per field, what Textract gets wrong (exclusive): the key not detected, the pair read with low confidence,
# the value misread (and then, WRONG_AND_LOW of the time, also with low confidence).
MISSING_RATE = 0.04
LOW_CONFIDENCE_RATE = 0.035
WRONG_RATE = 0.05
WRONG_AND_LOW = 0.4
LOW_CONFIDENCE = (30.0, 70.0)
HIGH_CONFIDENCE = (95.0, 99.9)

PAGE_WIDTH_PT = 612.0  # US Letter
PAGE_HEIGHT_PT = 792.0
MARGIN_PT = 72.0
BODY_SIZE = 11.0
TITLE_SIZE = 18.0
ROW_GAP_PT = 25.0


# ---------------------------------------------------------------------------------------------------------------
# Layout conventions


def analysis_key(document_key: str, page_number: int = 1) -> str:
    """Where the analysis of page ``page_number`` (1-based) of a document lies, relative to the document's prefix.

    A PDF (split into single-page PDFs by the pipeline, whatever its length): ``<key>.page-PPPP.textract.json``.
    Any other document (a PNG: one page, analysed as it is): ``<key>.textract.json``.
    """
    if document_key.lower().endswith(".pdf"):
        return page_analysis_key(document_key, page_number)
    if page_number != 1:
        raise ValueError(f"{document_key} is not a PDF: it has page 1 only, not {page_number}")
    return whole_document_analysis_key(document_key)


def analysis_for_page(samples_dir: str | Path, document_key: str, page_number: int) -> dict[str, Any]:
    """The stored Textract response for one page of a sample document written under ``samples_dir``."""
    path = Path(samples_dir) / ANALYSES_DIR / analysis_key(document_key, page_number)
    return dict(json.loads(path.read_text(encoding="utf-8")))


def load_ground_truth(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``ground_truth.jsonl`` (or of the one in a samples folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / GROUND_TRUTH_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------------------------
# Form kinds and their values

FIRST_NAMES = ("Jane", "John", "Maria", "Ahmed", "Li", "Olga", "Pedro", "Aisha", "Tom", "Sofia", "Kenji", "Emma",
               "Noah", "Fatima", "Lucas", "Chloe", "Ravi", "Ines", "Oscar", "Mei")
LAST_NAMES = ("Doe", "Smith", "Garcia", "Khan", "Chen", "Petrova", "Silva", "Okafor", "Brown", "Rossi", "Sato",
              "Muller", "Novak", "Haddad", "Dubois", "Nguyen", "Patel", "Lopez", "Berg", "Wong")
COMPANIES = ("Acme Supplies Ltd", "Northwind Traders", "Globex Corporation", "Initech Services", "Umbrella Office",
             "Stark Logistics", "Wayne Paper Co", "Blue Harbor Foods", "Redwood Analytics", "Orbit Print Shop")
STREETS = ("Any Street", "Main Street", "Oak Avenue", "Harbor Road", "Elm Drive", "Market Lane", "Hill Court")
CITIES = ("Any Town", "Springfield", "Riverton", "Lakeside", "Fairview", "Georgetown", "Brookfield")
DEPARTMENTS = ("Finance", "Sales", "Engineering", "Marketing", "Operations", "Legal", "Support")
PURPOSES = ("Client visit", "Trade fair", "Team offsite", "Training course", "Site inspection", "Sales meeting")
POSITIONS = ("Data Analyst", "Accountant", "Sales Manager", "Software Engineer", "Office Assistant", "Designer")
ITEMS = (("Office chairs", 129.0), ("Printer paper", 7.5), ("Toner cartridge", 64.0), ("Desk lamp", 23.9),
         ("Laptop stand", 41.0), ("Whiteboard", 88.0), ("USB cables", 4.8), ("Monitor", 189.0), ("Notebooks", 2.4))
EXPENSES = (("Taxi", 18.0, 60.0), ("Hotel", 90.0, 260.0), ("Train ticket", 25.0, 140.0), ("Meals", 12.0, 75.0),
            ("Parking", 5.0, 30.0), ("Conference fee", 150.0, 480.0))


@dataclass(frozen=True)
class FormContent:
    """What one filled-in form says: its fields in reading order and its other text lines."""

    fields: dict[str, str]
    lines: list[str]
    head: int  # how many fields come before the lines (the rest after them)


@dataclass(frozen=True)
class FormKind:
    name: str
    folder: str
    title: str
    handwritten: bool  # values filled in by hand (Textract's TextType HANDWRITING)
    fill: Callable[[random.Random], FormContent]


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _date(rng: random.Random, start: datetime.date = datetime.date(2023, 1, 1), days: int = 3 * 365) -> str:
    return (start + datetime.timedelta(days=rng.randrange(days))).strftime("%m/%d/%Y")


def _later(date: str, rng: random.Random, low: int, high: int) -> str:
    start = datetime.datetime.strptime(date, "%m/%d/%Y").date()
    return (start + datetime.timedelta(days=rng.randint(low, high))).strftime("%m/%d/%Y")


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def _address(rng: random.Random) -> str:
    return f"{rng.randint(1, 9999)} {rng.choice(STREETS)}, {rng.choice(CITIES)}"


def _item_lines(rng: random.Random, low: int, high: int) -> tuple[list[str], int]:
    lines = ["Description Qty Unit Price Amount"]
    total = 0
    for name, price in rng.sample(ITEMS, rng.randint(low, high)):
        quantity = rng.randint(1, 12)
        cents = round(price * 100 * rng.uniform(0.9, 1.1))
        total += quantity * cents
        lines.append(f"{name} {quantity} {_money(cents)} {_money(quantity * cents)}")
    return lines, total


def _invoice(rng: random.Random) -> FormContent:
    date = _date(rng)
    first, last = _person(rng)
    lines, subtotal = _item_lines(rng, 2, 5)
    tax = round(subtotal * 0.08)
    fields = {"Vendor:": rng.choice(COMPANIES), "Invoice Number:": f"INV-{rng.randint(10000, 99999)}",
              "Invoice Date:": date, "Due Date:": _later(date, rng, 14, 45), "Bill To:": f"{first} {last}",
              "PO Number:": f"PO-{rng.randint(100000, 999999)}", "Subtotal:": _money(subtotal),
              "Tax:": _money(tax), "Total:": _money(subtotal + tax)}
    return FormContent(fields, lines, head=6)


def _expense_claim(rng: random.Random) -> FormContent:
    first, last = _person(rng)
    date = _date(rng)
    lines = ["Expense Amount"]
    total = 0
    for name, low, high in rng.sample(EXPENSES, rng.randint(2, 4)):
        cents = round(rng.uniform(low, high) * 100)
        total += cents
        lines.append(f"{name} {_money(cents)}")
    approver = " ".join(_person(rng))
    fields = {"Name:": f"{first} {last}", "Employee ID:": f"E{rng.randint(10000, 99999)}",
              "Department:": rng.choice(DEPARTMENTS), "Date:": date, "Purpose:": rng.choice(PURPOSES),
              "Total:": _money(total), "Approved By:": approver}
    return FormContent(fields, lines, head=5)


def _employment_application(rng: random.Random) -> FormContent:
    first, last = _person(rng)
    birth = _date(rng, datetime.date(1960, 1, 1), 40 * 365)
    fields = {"Full Name:": f"{first} {last}", "Date of Birth:": birth,
              "Phone Number:": f"555-{rng.randint(100, 9999):04d}",
              "Email:": f"{first}.{last}@example.com".lower(), "Mailing Address:": _address(rng),
              "Position:": rng.choice(POSITIONS), "Start Date:": _date(rng, datetime.date(2024, 1, 1), 365),
              "Expected Salary:": _money(rng.randint(38, 140) * 100_000)}
    lines = ["Previous Employment", f"{rng.choice(COMPANIES)} {rng.randint(2005, 2015)} to {rng.randint(2016, 2023)}",
             f"{rng.choice(COMPANIES)} {rng.randint(1995, 2004)} to {rng.randint(2005, 2015)}",
             "I certify that the information above is true"]
    return FormContent(fields, lines, head=6)


def _purchase_order(rng: random.Random) -> FormContent:
    date = _date(rng)
    lines, total = _item_lines(rng, 2, 4)
    fields = {"PO Number:": f"PO-{rng.randint(100000, 999999)}", "Order Date:": date,
              "Supplier:": rng.choice(COMPANIES), "Ship To:": _address(rng),
              "Delivery Date:": _later(date, rng, 5, 30), "Payment Terms:": f"Net {rng.choice((15, 30, 45, 60))}",
              "Total:": _money(total)}
    return FormContent(fields, lines, head=5)


KINDS = (
    FormKind("invoice", "invoices", "Invoice", False, _invoice),
    FormKind("expense_claim", "expense-claims", "Expense Claim", True, _expense_claim),
    FormKind("employment_application", "employment-applications", "Employment Application", True,
             _employment_application),
    FormKind("purchase_order", "purchase-orders", "Purchase Order", False, _purchase_order),
)
NOTES = ("Notes", "This page continues the form", "Please keep a copy of this form for your records",
         "Questions about this form go to the office that sent it")


# ---------------------------------------------------------------------------------------------------------------
# What Textract reads


_CONFUSIONS = {"8": "B", "B": "8", "0": "O", "O": "0", "1": "l", "l": "1", "5": "S", "S": "5", "6": "G",
               "2": "Z", "g": "q", "e": "c", "m": "rn"}


def misread(text: str, rng: random.Random) -> str:
    """An OCR-like mistake in ``text`` (8/B, 0/O, 1/l, 5/S swapped or a digit dropped), word count unchanged."""
    swaps = [i for i, char in enumerate(text) if char in _CONFUSIONS]
    drops = [i for i, char in enumerate(text) if char.isdigit() and _word_length(text, i) > 1]
    choices = [("swap", i) for i in swaps] + [("drop", i) for i in drops]
    if not choices:  # no confusable character: lose a letter of a long enough word
        choices = [("drop", i) for i, char in enumerate(text) if not char.isspace() and _word_length(text, i) > 1]
    if not choices:
        return text + "."
    action, index = rng.choice(choices)
    replacement = _CONFUSIONS[text[index]] if action == "swap" else ""
    return text[:index] + replacement + text[index + 1:]


def _word_length(text: str, index: int) -> int:
    start = text.rfind(" ", 0, index) + 1
    end = text.find(" ", index)
    return (len(text) if end < 0 else end) - start


@dataclass(frozen=True)
class Reading:
    """How the analysis reads one field: ``text`` None when the key was not detected."""

    key: str
    truth: str
    page: int
    text: str | None
    confidence: float  # of the KEY and VALUE KEY_VALUE_SET blocks
    defect: str = ""  # "" | "missing" | "low_confidence" | "wrong" | "wrong_low_confidence"

    @property
    def low_confidence(self) -> bool:
        return self.defect in ("low_confidence", "wrong_low_confidence")

    @property
    def wrong(self) -> bool:
        return self.defect in ("wrong", "wrong_low_confidence")


def _reading(key: str, truth: str, page: int, rng: random.Random) -> Reading:
    draw = rng.random()
    high = round(rng.uniform(*HIGH_CONFIDENCE), 4)
    low = round(rng.uniform(*LOW_CONFIDENCE), 4)
    if draw < MISSING_RATE:
        return Reading(key, truth, page, None, high, "missing")
    draw -= MISSING_RATE
    if draw < LOW_CONFIDENCE_RATE:
        return Reading(key, truth, page, truth, low, "low_confidence")
    draw -= LOW_CONFIDENCE_RATE
    if draw < WRONG_RATE:
        also_low = rng.random() < WRONG_AND_LOW
        return Reading(key, truth, page, misread(truth, rng), low if also_low else high,
                       "wrong_low_confidence" if also_low else "wrong")
    return Reading(key, truth, page, truth, high)


# ---------------------------------------------------------------------------------------------------------------
# The documents


@dataclass(frozen=True)
class Row:
    """One printed line: a title, a field (key and value) or plain text."""

    kind: str  # "title" | "field" | "text"
    text: str
    value: str = ""


@dataclass(frozen=True)
class Box:
    """A rectangle in page fractions from the top left, as Textract's BoundingBox."""

    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class Word:
    text: str
    box: Box
    size: float


@dataclass(frozen=True)
class Line:
    row: Row
    words: tuple[Word, ...]
    key_words: int  # the first key_words words are the field's key


@dataclass
class SampleDocument:
    """One generated document: its pages' printed lines, its true fields and how Textract reads them."""

    index: int
    kind: FormKind
    format: str  # "pdf" | "png"
    pages: list[list[Line]]
    fields: dict[str, str]
    readings: dict[str, Reading]
    analyses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"doc-{self.index:04d}"

    @property
    def key(self) -> str:
        return f"{self.kind.folder}/{self.name}.{self.format}"

    def truth(self) -> dict[str, Any]:
        """The ground-truth record of ``ground_truth.jsonl``."""
        readings = self.readings.values()
        return {
            "document": self.key,
            "kind": self.kind.name,
            "format": self.format,
            "pages": len(self.pages),
            "fields": dict(self.fields),
            "page_of_field": {key: reading.page for key, reading in self.readings.items()},
            "analyses": [analysis_key(self.key, page) for page in range(1, len(self.pages) + 1)],
            "extracted": {key: reading.text for key, reading in self.readings.items()},
            "low_confidence_keys": [reading.key for reading in readings if reading.low_confidence],
            "wrong_values": [reading.key for reading in readings if reading.wrong],
            "missing_keys": [reading.key for reading in readings if reading.defect == "missing"],
            "page_block_ids": [_page_block(analysis)["Id"] for analysis in self.analyses],
            "key_block_ids": _key_block_ids(self.analyses),
        }


def _page_block(analysis: Mapping[str, Any]) -> dict[str, Any]:
    return next(block for block in analysis["Blocks"] if block["BlockType"] == "PAGE")


def _key_block_ids(analyses: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    found = {}
    for analysis in analyses:
        blocks = analysis["Blocks"]
        by_id = {block["Id"]: block for block in blocks}
        for block in blocks:
            if block["BlockType"] == "KEY_VALUE_SET" and "KEY" in block["EntityTypes"]:
                found[_child_text(block, by_id, _Keys(pascal=True))] = block["Id"]
    return found


def _multi_page_indexes(seed: int, count: int) -> set[int]:
    """Exactly round(count * MULTI_PAGE_SHARE) documents (at least one when count >= 2) are multi-page."""
    wanted = max(round(count * MULTI_PAGE_SHARE), 1 if count >= 2 else 0)
    return set(random.Random(f"{seed}:multi-page").sample(range(1, count + 1), wanted))


def generate_documents(seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT) -> list[SampleDocument]:
    """The sample documents (1..count), deterministic for the seed; each document draws from its own stream."""
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    multi = _multi_page_indexes(seed, count)
    return [_document(index, index in multi, random.Random(f"{seed}:document:{index}"))
            for index in range(1, count + 1)]


def _document(index: int, multi_page: bool, rng: random.Random) -> SampleDocument:
    kind = KINDS[(index - 1) % len(KINDS)]
    content = kind.fill(rng)
    page_count = rng.randint(2, 4) if multi_page else 1
    page_rows = _page_rows(kind, content, page_count, index)
    fmt = "pdf" if multi_page or rng.random() >= PNG_SHARE else "png"
    readings = {}
    for page, rows in enumerate(page_rows, start=1):
        for row in rows:
            if row.kind == "field":
                readings[row.text] = _reading(row.text, row.value, page, rng)
    pages = [_layout(rows, rng) for rows in page_rows]
    document = SampleDocument(index, kind, fmt, pages, dict(content.fields), readings)
    document.analyses = [_analysis(lines, readings, kind.handwritten, rng) for lines in pages]
    return document


def _page_rows(kind: FormKind, content: FormContent, pages: int, index: int) -> list[list[Row]]:
    """The rows of each page: the title and first fields on page 1, the text lines in between, the last fields
    on the last page; extra pages carry the rest of the lines or terms."""
    fields = [Row("field", key, value) for key, value in content.fields.items()]
    head, tail = fields[:content.head], fields[content.head:]
    lines = [Row("text", text) for text in content.lines]
    title = Row("title", f"{kind.title} doc-{index:04d}")
    if pages == 1:
        return [[title, *head, *lines, *tail]]
    notes = [Row("text", text) for text in NOTES]
    share = -(-len(lines) // (pages - 1))  # the lines go on pages 2..n, notes on the ones left over
    result = [[title, *head]]
    for page in range(2, pages + 1):
        chunk = lines[(page - 2) * share:(page - 1) * share]
        result.append(chunk if chunk else list(notes))
    result[-1] = [*result[-1], *tail]
    for page, rows in enumerate(result, start=1):
        rows.append(Row("text", f"Page {page} of {pages}"))
    return result


# Helvetica's advance widths (its AFM), in thousandths of an em, for the printable ASCII characters.
_HELVETICA = dict(zip(
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
    (278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, *[556] * 10, 278, 278, 584, 584,
     584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667,
     611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222,
     222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584),
    strict=True))


def _char_width(char: str) -> float:
    """Helvetica's advance width of ``char``, in ems."""
    return _HELVETICA.get(char, 556) / 1000


def text_width(text: str, size: float) -> float:
    """The width of ``text`` in points at font size ``size``."""
    return sum(_char_width(char) for char in text) * size


def _layout(rows: Sequence[Row], rng: random.Random) -> list[Line]:
    """Place the rows on a page: fields as key then value at a column after the page's longest key."""
    keys = [row.text for row in rows if row.kind == "field"]
    value_x = MARGIN_PT + max((text_width(key, BODY_SIZE) for key in keys), default=0.0) + 16.0
    lines = []
    y = MARGIN_PT
    for row in rows:
        size = TITLE_SIZE if row.kind == "title" else BODY_SIZE
        x = MARGIN_PT + (rng.uniform(-1.5, 1.5) if row.kind != "title" else 0.0)
        jitter = rng.uniform(-1.0, 1.0)
        words = _place(row.text.split(), x, y + jitter, size)
        if row.kind == "field":
            words += _place(row.value.split(), value_x + rng.uniform(0.0, 6.0), y + jitter, size)
        lines.append(Line(row, tuple(words), len(row.text.split()) if row.kind == "field" else 0))
        y += ROW_GAP_PT * (1.8 if row.kind == "title" else 1.0)
    return lines


def _place(texts: Sequence[str], x: float, y: float, size: float) -> list[Word]:
    words = []
    for text in texts:
        width = text_width(text, size)
        words.append(Word(text, Box(x / PAGE_WIDTH_PT, y / PAGE_HEIGHT_PT, width / PAGE_WIDTH_PT,
                                    size * 1.2 / PAGE_HEIGHT_PT), size))
        x += width + text_width(" ", size)
    return words


# ---------------------------------------------------------------------------------------------------------------
# Textract responses


def _block_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def geometry(box: Box) -> dict[str, Any]:
    """Textract's Geometry for an upright box: BoundingBox and the four-corner Polygon."""
    left, top = round(box.left, 6), round(box.top, 6)
    right, bottom = round(box.left + box.width, 6), round(box.top + box.height, 6)
    return {"BoundingBox": {"Width": round(right - left, 6), "Height": round(bottom - top, 6), "Left": left,
                            "Top": top},
            "Polygon": [{"X": left, "Y": top}, {"X": right, "Y": top}, {"X": right, "Y": bottom},
                        {"X": left, "Y": bottom}]}


def _union(boxes: Sequence[Box]) -> Box:
    left = min(box.left for box in boxes)
    top = min(box.top for box in boxes)
    right = max(box.left + box.width for box in boxes)
    bottom = max(box.top + box.height for box in boxes)
    return Box(left, top, right - left, bottom - top)


def _analysis(lines: Sequence[Line], readings: Mapping[str, Reading], handwritten: bool,
              rng: random.Random) -> dict[str, Any]:
    """The AnalyzeDocument (FORMS) response of one page analysed alone: PAGE, LINEs, WORDs, KEY_VALUE_SETs."""
    line_blocks: list[dict[str, Any]] = []
    word_blocks: list[dict[str, Any]] = []
    pair_blocks: list[dict[str, Any]] = []
    for line in lines:
        reading = readings.get(line.row.text) if line.row.kind == "field" else None
        words = _word_blocks(line, reading, handwritten, rng)
        word_blocks += words
        confidence = sum(word["Confidence"] for word in words) / len(words)
        line_blocks.append({"BlockType": "LINE", "Confidence": round(confidence, 4),
                            "Text": " ".join(word["Text"] for word in words),
                            "Geometry": geometry(_union([word.box for word in line.words])), "Id": _block_id(rng),
                            "Relationships": [{"Type": "CHILD", "Ids": [word["Id"] for word in words]}], "Page": 1})
        if reading is not None and reading.text is not None:
            pair_blocks += _pair_blocks(line, words, reading, rng)
    page = {"BlockType": "PAGE", "Geometry": geometry(Box(0.0, 0.0, 1.0, 1.0)), "Id": _block_id(rng),
            "Relationships": [{"Type": "CHILD", "Ids": [block["Id"] for block in line_blocks + pair_blocks]}],
            "Page": 1}
    return {"DocumentMetadata": {"Pages": 1}, "Blocks": [page, *line_blocks, *word_blocks, *pair_blocks],
            "AnalyzeDocumentModelVersion": "1.0"}


def _word_blocks(line: Line, reading: Reading | None, handwritten: bool, rng: random.Random) -> list[dict[str, Any]]:
    texts = [word.text for word in line.words]
    value_type = "PRINTED"
    if reading is not None:
        value_type = "HANDWRITING" if handwritten else "PRINTED"
        if reading.text is not None:
            texts[line.key_words:] = reading.text.split()
    blocks = []
    for index, (word, text) in enumerate(zip(line.words, texts, strict=True)):
        is_value = reading is not None and index >= line.key_words
        text_type = value_type if is_value else "PRINTED"
        if text != word.text:
            confidence = rng.uniform(55.0, 92.0)  # the misread word
        elif reading is not None and reading.low_confidence:
            confidence = rng.uniform(80.0, 99.0)
        else:
            confidence = rng.uniform(88.0, 99.5) if text_type == "HANDWRITING" else rng.uniform(97.0, 99.95)
        blocks.append({"BlockType": "WORD", "Confidence": round(confidence, 4), "Text": text, "TextType": text_type,
                       "Geometry": geometry(word.box), "Id": _block_id(rng), "Page": 1})
    return blocks


def _pair_blocks(line: Line, words: Sequence[Mapping[str, Any]], reading: Reading,
                 rng: random.Random) -> list[dict[str, Any]]:
    key_id, value_id = _block_id(rng), _block_id(rng)
    key_words, value_words = words[:line.key_words], words[line.key_words:]
    key = {"BlockType": "KEY_VALUE_SET", "Confidence": reading.confidence,
           "Geometry": geometry(_union([word.box for word in line.words[:line.key_words]])), "Id": key_id,
           "Relationships": [{"Type": "VALUE", "Ids": [value_id]},
                             {"Type": "CHILD", "Ids": [word["Id"] for word in key_words]}],
           "EntityTypes": ["KEY"], "Page": 1}
    value = {"BlockType": "KEY_VALUE_SET", "Confidence": reading.confidence,
             "Geometry": geometry(_union([word.box for word in line.words[line.key_words:]])), "Id": value_id,
             "Relationships": [{"Type": "CHILD", "Ids": [word["Id"] for word in value_words]}],
             "EntityTypes": ["VALUE"], "Page": 1}
    return [key, value]


# ---------------------------------------------------------------------------------------------------------------
# Rendering: PDF (pypdf) and PNG (zlib)


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _content_stream(lines: Sequence[Line]) -> bytes:
    commands = []
    for line in lines:
        for word in line.words:
            x = word.box.left * PAGE_WIDTH_PT
            baseline = PAGE_HEIGHT_PT - (word.box.top * PAGE_HEIGHT_PT + word.size)
            commands.append(f"BT /F1 {word.size:g} Tf {x:.2f} {baseline:.2f} Td {_pdf_string(word.text)} Tj ET")
    return ("\n".join(commands) + "\n").encode("latin-1")


def render_pdf(document: SampleDocument) -> bytes:
    """A real PDF, one page per page of the document, its text drawn where the analyses place it."""
    from pypdf import PdfWriter
    from pypdf.constants import PageLabelStyle
    from pypdf.generic import ContentStream, DictionaryObject, NameObject

    writer = PdfWriter()
    for lines in document.pages:
        page = writer.add_blank_page(PAGE_WIDTH_PT, PAGE_HEIGHT_PT)
        font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                                 NameObject("/BaseFont"): NameObject("/Helvetica")})
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        stream = ContentStream(None, writer)
        stream.set_data(_content_stream(lines))
        page.replace_contents(stream)
    writer.set_page_label(0, len(document.pages) - 1, style=PageLabelStyle.DECIMAL,
                          prefix=f"{document.name} p")
    writer.add_metadata({"/Title": f"{document.kind.title} {document.name}", "/Subject": document.key,
                         "/Author": "airflow-a2i synthetic samples"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


PNG_SCALE = 0.25  # pixels per point: a 153 x 198 thumbnail of a Letter page


def render_png(document: SampleDocument) -> bytes:
    """A small grayscale PNG of the (single) page: each word a dark bar where the analysis places it."""
    width, height = round(PAGE_WIDTH_PT * PNG_SCALE), round(PAGE_HEIGHT_PT * PNG_SCALE)
    pixels = [bytearray(b"\xff" * width) for _ in range(height)]
    for line in document.pages[0]:
        for word in line.words:
            left, top = int(word.box.left * width), int(word.box.top * height)
            right = max(left + 1, round((word.box.left + word.box.width) * width))
            bottom = max(top + 1, round((word.box.top + word.box.height) * height))
            for y in range(top, min(bottom, height)):
                pixels[y][left:min(right, width)] = b"\x40" * (min(right, width) - left)
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    return png(width, height, raw)


def png(width: int, height: int, raw: bytes) -> bytes:
    """An 8-bit grayscale PNG of ``raw`` scanlines (each starting with its filter byte)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def render(document: SampleDocument) -> bytes:
    return render_pdf(document) if document.format == "pdf" else render_png(document)


# ---------------------------------------------------------------------------------------------------------------
# Writing the samples


@dataclass(frozen=True)
class Summary:
    documents: int
    pages: int
    multi_page: int
    pdf: int
    png: int
    fields: int
    low_confidence: int
    wrong_values: int
    missing_keys: int

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def summarize(documents: Sequence[SampleDocument]) -> Summary:
    readings = [reading for document in documents for reading in document.readings.values()]
    return Summary(
        documents=len(documents),
        pages=sum(len(document.pages) for document in documents),
        multi_page=sum(1 for document in documents if len(document.pages) > 1),
        pdf=sum(1 for document in documents if document.format == "pdf"),
        png=sum(1 for document in documents if document.format == "png"),
        fields=len(readings),
        low_confidence=sum(1 for reading in readings if reading.low_confidence),
        wrong_values=sum(1 for reading in readings if reading.wrong),
        missing_keys=sum(1 for reading in readings if reading.defect == "missing"),
    )


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_samples(out: str | Path = DEFAULT_OUT, seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT) -> Summary:
    """Write documents, per-page analyses, ground truth and summary under ``out`` (replacing earlier samples)."""
    out = Path(out)
    documents = generate_documents(seed, count)
    for name in (DOCUMENTS_DIR, ANALYSES_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
    for document in documents:
        target = out / DOCUMENTS_DIR / document.key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render(document))
        for page, analysis in enumerate(document.analyses, start=1):
            path = out / ANALYSES_DIR / analysis_key(document.key, page)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_dump(analysis) + "\n", encoding="utf-8")
    records = sorted((document.truth() for document in documents), key=lambda record: record["document"])
    (out / GROUND_TRUTH_FILE).write_text("".join(_dump(record) + "\n" for record in records), encoding="utf-8")
    summary = summarize(documents)
    (out / SUMMARY_FILE).write_text(json.dumps({"seed": seed, **summary.to_dict()}, indent=2) + "\n",
                                    encoding="utf-8")
    return summary


def upload_samples(s3: Any, samples_dir: str | Path, bucket: str, prefix: str = "input") -> int:
    """Create ``bucket`` (with the CORS rule A2I's worker UI needs to fetch documents) and put the samples under
    ``s3://bucket/prefix/``: the documents and, beside each, its per-page analyses, which the local service's
    Textract reads. Returns how many documents were uploaded."""
    from airflow_a2i.preflight import CORS_RULE

    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [CORS_RULE]})
    documents = 0
    for folder in (DOCUMENTS_DIR, ANALYSES_DIR):
        root = Path(samples_dir) / folder
        for path in sorted(path for path in root.rglob("*") if path.is_file()):
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{path.relative_to(root).as_posix()}", Body=path.read_bytes())
            documents += folder == DOCUMENTS_DIR
    return documents


# ---------------------------------------------------------------------------------------------------------------
# Simulated workers


class _Keys:
    """Block field names in a block's spelling: A2I's camelCase (blockType) or Textract's PascalCase (BlockType)."""

    def __init__(self, pascal: bool) -> None:
        self.pascal = pascal

    def __call__(self, camel: str) -> str:
        return camel[0].upper() + camel[1:] if self.pascal else camel

    @classmethod
    def of(cls, blocks: Sequence[Mapping[str, Any]]) -> _Keys:
        return cls(any("BlockType" in block for block in blocks) and not any("blockType" in block for block in blocks))


def _child_text(block: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]], k: _Keys) -> str:
    """The text of a block's CHILD words joined by single spaces, as A2I matches form keys."""
    words = [by_id[i] for i in _related_ids(block, "CHILD", k) if i in by_id]
    return " ".join(" ".join(str(word.get(k("text"), "")) for word in words if word.get(k("blockType")) == "WORD")
                    .split())


def _related_ids(block: Mapping[str, Any], kind: str, k: _Keys) -> list[str]:
    return [i for relationship in block.get(k("relationships")) or [] if relationship.get(k("type")) == kind
            for i in relationship.get(k("ids")) or []]


def _set_children(block: dict[str, Any], ids: list[str], k: _Keys) -> None:
    for relationship in block.get(k("relationships")) or []:
        if relationship.get(k("type")) == "CHILD":
            relationship[k("ids")] = ids
            return
    block.setdefault(k("relationships"), []).append({k("type"): "CHILD", k("ids"): ids})


def _answer_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "airflow-a2i-samples/answer/" + "/".join(parts)))


def corrected_blocks(selected_blocks: Sequence[Mapping[str, Any]], truth_fields: Mapping[str, str],
                     missing_fields: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """A worker's answer to a built-in Textract task: the selected blocks with each value set to the truth.

    ``selected_blocks`` are the task's ``selectedAiServiceResponse.blocks`` (camelCase, as A2I gives them to
    workers; PascalCase works too). For every KEY whose text (its CHILD words joined by spaces) is a key of
    ``truth_fields``, the CHILD words of its VALUE get the true text: word for word when the counts match, else
    the extra words are dropped or the last word takes the rest. The result has A2I's answer shape (as in a real
    recorded answer): WORDs keep blockType, id, text; KEY_VALUE_SETs lose their geometry, and corrected pairs
    their confidence. ``missing_fields`` add a new pair (new ids) for each key the selection does not hold, as a
    worker adds a key Textract missed. Nothing is changed in place.
    """
    blocks = [copy.deepcopy(dict(block)) for block in selected_blocks if isinstance(block, Mapping)]
    k = _Keys.of(blocks)
    by_id = {block[k("id")]: block for block in blocks if isinstance(block.get(k("id")), str)}
    corrected: set[str] = set()
    dropped: set[str] = set()
    present: set[str] = set()
    for block in blocks:
        if block.get(k("blockType")) != "KEY_VALUE_SET" or "KEY" not in (block.get(k("entityTypes")) or []):
            continue
        key_text = _child_text(block, by_id, k)
        present.add(key_text)
        if key_text not in truth_fields:
            continue
        for value_id in _related_ids(block, "VALUE", k):
            value = by_id.get(value_id)
            if value is None:
                continue
            changed, removed = _set_value(value, truth_fields[key_text], by_id, blocks, k)
            if changed:
                corrected |= {block[k("id")], value_id, *changed}
                dropped |= removed
    answer = [_answer_shape(block, block.get(k("id")) in corrected, k) for block in blocks
              if block.get(k("id")) not in dropped]
    for key_text, value_text in (missing_fields or {}).items():
        if " ".join(key_text.split()) not in present:
            answer += _new_pair(key_text, value_text, k)
    return answer


def _set_value(value: dict[str, Any], truth: str, by_id: dict[str, dict[str, Any]], blocks: list[dict[str, Any]],
               k: _Keys) -> tuple[set[str], set[str]]:
    """Give the VALUE block's words the true text; returns the ids of the changed and of the dropped words."""
    words = [by_id[i] for i in _related_ids(value, "CHILD", k)
             if i in by_id and by_id[i].get(k("blockType")) == "WORD"]
    current = " ".join(str(word.get(k("text"), "")) for word in words)
    wanted = truth.split()
    if current.split() == wanted:
        return set(), set()
    if not words:  # an empty value: the worker types the text as a new word
        word = {k("blockType"): "WORD", k("id"): _answer_id(str(value[k("id")]), "word"), k("text"): truth}
        blocks.insert(blocks.index(value), word)
        by_id[word[k("id")]] = word
        _set_children(value, [word[k("id")]], k)
        return {word[k("id")], value[k("id")]}, set()
    kept = words[:max(1, len(wanted))]
    texts = [*wanted[:len(kept) - 1], " ".join(wanted[len(kept) - 1:])]
    changed = set()
    for word, text in zip(kept, texts, strict=True):
        if word.get(k("text")) != text:
            word[k("text")] = text
            changed.add(word[k("id")])
    removed = {word[k("id")] for word in words[len(kept):]}
    if removed:
        _set_children(value, [i for i in _related_ids(value, "CHILD", k) if i not in removed], k)
    return changed | {value[k("id")]}, removed


def _answer_shape(block: dict[str, Any], corrected: bool, k: _Keys) -> dict[str, Any]:
    block.pop(k("geometry"), None)
    if corrected:
        block.pop(k("confidence"), None)
    return block


def _new_pair(key_text: str, value_text: str, k: _Keys) -> list[dict[str, Any]]:
    key_words = [{k("blockType"): "WORD", k("id"): _answer_id(key_text, "key", str(i)), k("text"): text}
                 for i, text in enumerate(key_text.split())]
    value_words = [{k("blockType"): "WORD", k("id"): _answer_id(key_text, "value", str(i)), k("text"): text}
                   for i, text in enumerate(value_text.split())]
    key_id, value_id = _answer_id(key_text, "key"), _answer_id(key_text, "value")
    key = {k("blockType"): "KEY_VALUE_SET", k("entityTypes"): ["KEY"], k("id"): key_id,
           k("relationships"): [{k("ids"): [value_id], k("type"): "VALUE"},
                                {k("ids"): [word[k("id")] for word in key_words], k("type"): "CHILD"}]}
    value = {k("blockType"): "KEY_VALUE_SET", k("entityTypes"): ["VALUE"], k("id"): value_id,
             k("relationships"): [{k("ids"): [word[k("id")] for word in value_words], k("type"): "CHILD"}]}
    return [*key_words, *value_words, key, value]


class GroundTruth:
    """The ground truth of a samples folder, found from a task's blocks: answers built-in Textract tasks."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.records = {str(record["document"]): dict(record) for record in records}
        self.pages: dict[str, tuple[str, int]] = {}
        for key, record in self.records.items():
            for page, block_id in enumerate(record.get("page_block_ids", []), start=1):
                self.pages[block_id] = (key, page)
            for field_key, block_id in record.get("key_block_ids", {}).items():
                self.pages.setdefault(block_id, (key, record["page_of_field"][field_key]))

    @classmethod
    def load(cls, path: str | Path) -> GroundTruth:
        return cls(load_ground_truth(path))

    def page_of(self, blocks: Iterable[Mapping[str, Any]]) -> tuple[str, int] | None:
        """(document key, page number) of the page these blocks (either spelling) come from, if known."""
        for block in blocks:
            found = self.pages.get(block.get("id", block.get("Id", "")))
            if found is not None:
                return found
        return None

    def page_fields(self, document_key: str, page: int) -> dict[str, str]:
        record = self.records[document_key]
        return {key: value for key, value in record["fields"].items() if record["page_of_field"][key] == page}

    def answer(self, task_input: Mapping[str, Any]) -> dict[str, Any]:
        """A built-in Textract task's answer content, ``{"blocks": [...]}``, from the truth of its page.

        The selected pairs get their true values; the page's keys Textract missed are added when they are
        among the task's important form keys (a MissingImportantFormKey condition asked for them).
        """
        selected = (task_input.get("selectedAiServiceResponse") or {}).get("blocks") or []
        response = (task_input.get("aiServiceResponse") or {}).get("blocks") or []
        found = self.page_of([*response, *selected])
        if found is None:
            return {"blocks": corrected_blocks(selected, {})}
        fields = self.page_fields(*found)
        record = self.records[found[0]]
        asked = {name for item in (task_input.get("humanLoopContext") or {}).get("importantFormKeys") or []
                 for name in [item.get("importantFormKey"), *(item.get("importantFormKeyAliases") or [])]}
        missing = {key: fields[key] for key in record.get("missing_keys", []) if key in fields and key in asked}
        return {"blocks": corrected_blocks(selected, fields, missing)}


@functools.lru_cache(maxsize=4)
def _cached_ground_truth(path: str, modified: int) -> GroundTruth:
    return GroundTruth.load(path)


def ground_truth_answer(task_input: dict, context: dict) -> dict:
    """An answer callable for the simulated workforce (``NAME=demo.samples:ground_truth_answer``).

    Reads the ground truth at ``$AIRFLOW_A2I_SAMPLES_GROUND_TRUTH`` (a ``ground_truth.jsonl`` or its folder;
    default ``.demo/samples``), reloaded when the file changes.
    """
    path = Path(os.environ.get(GROUND_TRUTH_ENV) or DEFAULT_OUT)
    if path.is_dir():
        path = path / GROUND_TRUTH_FILE
    return _cached_ground_truth(str(path), path.stat().st_mtime_ns).answer(task_input)
