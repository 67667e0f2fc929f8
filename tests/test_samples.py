"""Synthetic sample documents: deterministic files, real PDFs and PNGs, per-page Textract analyses in the real
block structure that the activation evaluator reads sensibly, ground truth that matches them, and simulated
workers' corrections.

The block structure is checked against what a real Textract response holds (``fixtures/textract-employment-
application.json``, from aws-samples/amazon-textract-response-parser, Apache-2.0; see ``fixtures/README.md``).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import io
import json
import random
import struct
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter

from airflow_a2i.activation import TEXTRACT, evaluate_activation_conditions
from airflow_a2i.local.builtin import camel_case
from demo.samples import (
    ANALYSES_DIR,
    DEFAULT_COUNT,
    DEFAULT_SEED,
    DOCUMENTS_DIR,
    GROUND_TRUTH_ENV,
    GROUND_TRUTH_FILE,
    SUMMARY_FILE,
    GroundTruth,
    analysis_for_page,
    analysis_key,
    corrected_blocks,
    ground_truth_answer,
    load_ground_truth,
    misread,
    write_samples,
)
from tests.conftest import ROLE_ARN, unique, workteam_arn

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
REAL = json.loads((FIXTURES / "textract-employment-application.json").read_text())
LOW_CONFIDENCE_CHECK = {"Conditions": [{"ConditionType": "ImportantFormKeyConfidenceCheck", "ConditionParameters": {
    "ImportantFormKey": "*", "KeyValueBlockConfidenceLessThan": 80}}]}
EVERY_PAIR = {"Conditions": [{"ConditionType": "ImportantFormKeyConfidenceCheck", "ConditionParameters": {
    "ImportantFormKey": "*", "KeyValueBlockConfidenceLessThan": 100}}]}


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default sample set (default seed and count), written once for the module."""
    out = tmp_path_factory.mktemp("samples")
    write_samples(out)
    return out


@pytest.fixture(scope="module")
def truth(samples: Path) -> list[dict[str, Any]]:
    return load_ground_truth(samples / GROUND_TRUTH_FILE)


def pages(samples: Path, truth: list[dict[str, Any]]):
    """(record, page number, analysis) for every page of every document."""
    for record in truth:
        for page in range(1, record["pages"] + 1):
            yield record, page, analysis_for_page(samples, record["document"], page)


def fields_on(record: dict[str, Any], page: int) -> dict[str, str]:
    return {key: value for key, value in record["fields"].items() if record["page_of_field"][key] == page}


def pairs(blocks: list[dict[str, Any]], pascal: bool = True) -> dict[str, str]:
    """{key text: value text} of a response's key-value pairs (either spelling), read as A2I matches keys."""
    def k(name: str) -> str:
        return name[0].upper() + name[1:] if pascal else name

    by_id = {block[k("id")]: block for block in blocks}

    def children(block: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        return [by_id[i] for rel in block.get(k("relationships"), []) if rel[k("type")] == kind for i in rel[k("ids")]]

    found = {}
    for block in blocks:
        if block[k("blockType")] == "KEY_VALUE_SET" and "KEY" in block[k("entityTypes")]:
            key = " ".join(word[k("text")] for word in children(block, "CHILD"))
            found[key] = " ".join(word[k("text")] for value in children(block, "VALUE")
                                  for word in children(value, "CHILD"))
    return found


# ---------------------------------------------------------------------------------------------------------------
# Determinism and the layout


def test_the_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_samples(tmp_path / name, seed=11, count=10)
    write_samples(tmp_path / "other-seed", seed=12, count=10)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "other-seed")


def test_rewriting_replaces_earlier_samples(tmp_path: Path) -> None:
    write_samples(tmp_path / "out", seed=5, count=12)
    write_samples(tmp_path / "out", seed=5, count=6)
    write_samples(tmp_path / "fresh", seed=5, count=6)
    assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / "fresh")


def test_the_default_set_is_deterministic_and_has_every_kind_of_case(samples: Path, truth: list[dict],
                                                                     tmp_path: Path) -> None:
    write_samples(tmp_path, seed=DEFAULT_SEED, count=DEFAULT_COUNT)
    assert tree_digest(tmp_path) == tree_digest(samples)
    summary = json.loads((samples / SUMMARY_FILE).read_text())
    assert summary["documents"] == len(truth) == DEFAULT_COUNT >= 50
    assert summary["pages"] == sum(record["pages"] for record in truth)
    assert summary["multi_page"] == sum(record["pages"] > 1 for record in truth) >= 0.15 * len(truth)
    assert summary["fields"] == sum(len(record["fields"]) for record in truth)
    for name, member in (("low_confidence", "low_confidence_keys"), ("wrong_values", "wrong_values"),
                         ("missing_keys", "missing_keys")):
        assert summary[name] == sum(len(record[member]) for record in truth) > 0
    assert {record["format"] for record in truth} == {"pdf", "png"}
    assert len({record["kind"] for record in truth}) >= 3
    assert [record["document"] for record in truth] == sorted(record["document"] for record in truth)


def test_documents_and_analyses_follow_the_layout(samples: Path, truth: list[dict]) -> None:
    documents = sorted(str(path.relative_to(samples / DOCUMENTS_DIR)) for path in (samples / DOCUMENTS_DIR).rglob("*")
                       if path.is_file())
    assert documents == [record["document"] for record in truth]
    analyses = sorted(str(path.relative_to(samples / ANALYSES_DIR)) for path in (samples / ANALYSES_DIR).rglob("*")
                      if path.is_file())
    assert analyses == sorted(key for record in truth for key in record["analyses"])
    record = next(record for record in truth if record["pages"] == 3)
    assert record["analyses"] == [f"{record['document']}.page-{n:04d}.textract.json" for n in (1, 2, 3)]
    for record in truth:
        if record["format"] == "png":
            assert record["analyses"] == [record["document"] + ".textract.json"]
        else:
            assert record["analyses"][0] == record["document"] + ".page-0001.textract.json"
    assert analysis_key("invoices/doc-0007.pdf", 2) == "invoices/doc-0007.pdf.page-0002.textract.json"
    assert analysis_key("invoices/doc-0008.png") == "invoices/doc-0008.png.textract.json"
    for document, page in (("invoices/doc-0007.pdf", 0), ("invoices/doc-0008.png", 2)):
        with pytest.raises(ValueError):
            analysis_key(document, page)


def test_the_script_writes_and_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "scripts" / "make_sample_documents.py"
    spec = importlib.util.spec_from_file_location("make_sample_documents", path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--out", str(tmp_path / "script"), "--count", "7", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    write_samples(tmp_path / "library", seed=3, count=7)
    assert tree_digest(tmp_path / "script") == tree_digest(tmp_path / "library")
    summary = json.loads((tmp_path / "script" / SUMMARY_FILE).read_text())
    for label, name in (("documents:", "documents"), ("pages:", "pages"), ("multi-page PDFs:", "multi_page"),
                        ("fields:", "fields"), ("low-confidence fields:", "low_confidence"),
                        ("wrong values:", "wrong_values"), ("missing keys:", "missing_keys")):
        line = next(line for line in printed.splitlines() if line.strip().startswith(label))
        assert line.split(":", 1)[1].split()[0] == str(summary[name])


# ---------------------------------------------------------------------------------------------------------------
# The documents


def test_pdfs_are_readable_with_the_right_pages_and_split_into_pages(samples: Path, truth: list[dict]) -> None:
    pdfs = [record for record in truth if record["format"] == "pdf"]
    assert any(record["pages"] > 1 for record in pdfs) and any(record["pages"] == 1 for record in pdfs)
    for record in pdfs:
        reader = PdfReader(samples / DOCUMENTS_DIR / record["document"])
        assert len(reader.pages) == record["pages"]
        assert reader.metadata is not None and reader.metadata["/Subject"] == record["document"]
        for number, page in enumerate(reader.pages, start=1):
            writer = PdfWriter()  # what the pipeline does: one single-page PDF per page
            writer.add_page(page)
            buffer = io.BytesIO()
            writer.write(buffer)
            text = " ".join(PdfReader(io.BytesIO(buffer.getvalue())).pages[0].extract_text().split())
            assert f"Page {number} of {record['pages']}" in text or record["pages"] == 1
            for key, value in fields_on(record, number).items():
                assert f"{key} {value}" in text  # the document shows the truth, whatever Textract read


def test_pngs_are_valid_single_page_images(samples: Path, truth: list[dict]) -> None:
    for record in (record for record in truth if record["format"] == "png"):
        assert record["pages"] == 1
        data = (samples / DOCUMENTS_DIR / record["document"]).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        offset, chunks = 8, {}
        while offset < len(data):
            (length,) = struct.unpack(">I", data[offset:offset + 4])
            kind, body = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
            (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
            assert crc == zlib.crc32(kind + body)
            chunks[kind] = body
            offset += 12 + length
        width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
        assert (depth, color) == (8, 0)
        assert len(zlib.decompress(chunks[b"IDAT"])) == height * (width + 1)
        assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]


# ---------------------------------------------------------------------------------------------------------------
# The analyses


def test_every_page_has_a_consistent_textract_response(samples: Path, truth: list[dict]) -> None:
    real_fields = {block["BlockType"]: set(block) for block in REAL["Blocks"]}
    for record, page, analysis in pages(samples, truth):
        assert set(analysis) == {"DocumentMetadata", "Blocks", "AnalyzeDocumentModelVersion"}
        assert analysis["DocumentMetadata"] == {"Pages": 1}
        blocks = analysis["Blocks"]
        by_id = {block["Id"]: block for block in blocks}
        assert len(by_id) == len(blocks), "block ids are unique"
        kinds = Counter(block["BlockType"] for block in blocks)
        assert kinds["PAGE"] == 1 and kinds["LINE"] > 0 and kinds["WORD"] >= kinds["LINE"]
        for block in blocks:
            assert set(block) - {"Page"} == real_fields[block["BlockType"]], block["BlockType"]
            assert block["Page"] == 1
            box = block["Geometry"]["BoundingBox"]
            assert 0 <= box["Left"] <= box["Left"] + box["Width"] <= 1
            assert 0 <= box["Top"] <= box["Top"] + box["Height"] <= 1 and len(block["Geometry"]["Polygon"]) == 4
            for relationship in block.get("Relationships", []):
                assert relationship["Type"] in ("CHILD", "VALUE")
                assert all(i in by_id for i in relationship["Ids"]), "every related id exists"
            if block["BlockType"] == "LINE":
                words = [by_id[i] for i in block["Relationships"][0]["Ids"]]
                assert block["Text"] == " ".join(word["Text"] for word in words)
            if block["BlockType"] == "KEY_VALUE_SET":
                relations = {rel["Type"]: [by_id[i] for i in rel["Ids"]] for rel in block["Relationships"]}
                assert all(child["BlockType"] == "WORD" for child in relations["CHILD"])
                if block["EntityTypes"] == ["KEY"]:
                    assert [value["EntityTypes"] for value in relations["VALUE"]] == [["VALUE"]]
                    assert relations["VALUE"][0]["Confidence"] == block["Confidence"]
                else:
                    assert block["EntityTypes"] == ["VALUE"] and set(relations) == {"CHILD"}
        children = {i for rel in blocks[0]["Relationships"] for i in rel["Ids"]}
        assert children == {block["Id"] for block in blocks if block["BlockType"] in ("LINE", "KEY_VALUE_SET")}
        assert blocks[0]["Id"] == record["page_block_ids"][page - 1]


def test_ground_truth_matches_the_analyses(samples: Path, truth: list[dict]) -> None:
    for record in truth:
        assert set(record["page_of_field"]) == set(record["fields"]) == set(record["extracted"])
        assert set(record["page_of_field"].values()) <= set(range(1, record["pages"] + 1))
        for key, value in record["fields"].items():
            extracted = record["extracted"][key]
            assert (extracted is None) == (key in record["missing_keys"])
            assert (extracted is not None and extracted != value) == (key in record["wrong_values"])
            if key in record["wrong_values"]:
                assert len(extracted.split()) == len(value.split())
        found: dict[str, str] = {}
        for page in range(1, record["pages"] + 1):
            read = pairs(analysis_for_page(samples, record["document"], page)["Blocks"])
            assert set(read) == {key for key in fields_on(record, page) if key not in record["missing_keys"]}
            found |= read
        assert found == {key: text for key, text in record["extracted"].items() if text is not None}
        assert set(record["key_block_ids"]) == set(found)


def test_the_evaluator_finds_exactly_the_low_confidence_keys(samples: Path, truth: list[dict]) -> None:
    activated = total = 0
    for record, page, analysis in pages(samples, truth):
        result = evaluate_activation_conditions(LOW_CONFIDENCE_CHECK, TEXTRACT, analysis)
        expected = {key for key in record["low_confidence_keys"] if record["page_of_field"][key] == page}
        assert set(pairs(result.selected_response["Blocks"])) == expected
        assert result.activated == bool(expected)
        activated += result.activated
        total += 1
    assert 0.1 * total < activated < 0.5 * total, "some pages go to review, most do not"


def test_missing_keys_are_found_missing(samples: Path, truth: list[dict]) -> None:
    record = next(record for record in truth if record["missing_keys"])
    key = record["missing_keys"][0]
    analysis = analysis_for_page(samples, record["document"], record["page_of_field"][key])
    missing = {"Conditions": [{"ConditionType": "MissingImportantFormKey",
                               "ConditionParameters": {"ImportantFormKey": key}}]}
    assert evaluate_activation_conditions(missing, TEXTRACT, analysis).activated
    assert key in " ".join(block.get("Text", "") for block in analysis["Blocks"] if block["BlockType"] == "LINE"), \
        "the key's words are on the page; Textract just did not pair them"


def test_misread_changes_one_character_and_keeps_the_words() -> None:
    rng = random.Random(1)
    for text in ("1,250.00", "INV-48213", "06/02/1975", "Li Haddad", "Net 30", "a", "555-0108", "E80315"):
        for _ in range(50):
            wrong = misread(text, rng)
            assert wrong != text and len(wrong.split()) == len(text.split())
            assert abs(len(wrong) - len(text)) <= 1


# ---------------------------------------------------------------------------------------------------------------
# Simulated workers


def task_input(analysis: dict[str, Any], conditions: dict[str, Any]) -> dict[str, Any]:
    """What A2I gives workers of a built-in Textract loop (the service's loop input)."""
    result = evaluate_activation_conditions(conditions, TEXTRACT, analysis)
    return {"aiServiceRequest": {"document": {"s3Object": {"bucket": "b", "name": "page.pdf"}}},
            "aiServiceResponse": camel_case(analysis),
            "humanTaskActivationConditionResults": result.condition_results,
            "selectedAiServiceResponse": camel_case(result.selected_response),
            "humanLoopContext": {"importantFormKeys": result.important_form_keys}}


def test_corrected_blocks_fix_every_wrong_value(samples: Path, truth: list[dict]) -> None:
    fixed = 0
    for record, page, analysis in pages(samples, truth):
        wrong = [key for key in record["wrong_values"] if record["page_of_field"][key] == page]
        if not wrong:
            continue
        selected = task_input(analysis, EVERY_PAIR)["selectedAiServiceResponse"]["blocks"]
        before = copy.deepcopy(selected)
        answer = corrected_blocks(selected, fields_on(record, page))
        assert selected == before, "the input is not changed"
        read, corrected = pairs(selected, pascal=False), pairs(answer, pascal=False)
        assert all(read[key] != record["fields"][key] for key in wrong)
        assert corrected == {key: record["fields"][key] for key in read}
        assert {block["id"] for block in answer} == {block["id"] for block in selected}
        assert all("geometry" not in block for block in answer)
        texts = {block["id"]: block.get("text") for block in answer}
        for block in answer:
            if block["blockType"] == "KEY_VALUE_SET" and "KEY" in block["entityTypes"]:
                key_text = " ".join(texts[i] for rel in block["relationships"] if rel["type"] == "CHILD"
                                    for i in rel["ids"])
                assert ("confidence" in block) == (key_text not in wrong), "corrected pairs lose their confidence"
        fixed += len(wrong)
    assert fixed == sum(len(record["wrong_values"]) for record in truth)


def test_corrected_blocks_handle_other_word_counts_and_spellings() -> None:
    blocks = [{"blockType": "WORD", "id": "k1", "text": "Bill"}, {"blockType": "WORD", "id": "k2", "text": "To:"},
              {"blockType": "WORD", "id": "v1", "text": "Jane"}, {"blockType": "WORD", "id": "v2", "text": "D0e"},
              {"blockType": "KEY_VALUE_SET", "confidence": 40.0, "entityTypes": ["KEY"], "id": "k",
               "geometry": {"polygon": []},
               "relationships": [{"ids": ["v"], "type": "VALUE"}, {"ids": ["k1", "k2"], "type": "CHILD"}]},
              {"blockType": "KEY_VALUE_SET", "confidence": 40.0, "entityTypes": ["VALUE"], "id": "v",
               "relationships": [{"ids": ["v1", "v2"], "type": "CHILD"}]},
              {"blockType": "WORD", "id": "t1", "text": "Tax:"},
              {"blockType": "KEY_VALUE_SET", "confidence": 41.0, "entityTypes": ["KEY"], "id": "t",
               "relationships": [{"ids": ["tv"], "type": "VALUE"}, {"ids": ["t1"], "type": "CHILD"}]},
              {"blockType": "KEY_VALUE_SET", "confidence": 41.0, "entityTypes": ["VALUE"], "id": "tv"}]
    assert pairs(corrected_blocks(blocks, {"Bill To:": "Jane Doe", "Tax:": "8.00"}), pascal=False) == {
        "Bill To:": "Jane Doe", "Tax:": "8.00"}
    assert pairs(corrected_blocks(blocks, {"Bill To:": "Jane Mary Doe"}), pascal=False)["Bill To:"] == "Jane Mary Doe"
    shorter = corrected_blocks(blocks, {"Bill To:": "Jane"})
    assert pairs(shorter, pascal=False)["Bill To:"] == "Jane" and "v2" not in {block["id"] for block in shorter}
    untouched = corrected_blocks(blocks, {"Bill To:": "Jane D0e"})
    assert next(block for block in untouched if block["id"] == "k")["confidence"] == 40.0
    added = corrected_blocks(blocks, {}, missing_fields={"Due Date:": "03/01/2025", "Tax:": "9.00"})
    assert pairs(added, pascal=False) == {"Bill To:": "Jane D0e", "Tax:": "", "Due Date:": "03/01/2025"}
    pascal = corrected_blocks(json.loads(json.dumps(REAL["Blocks"])), {"Full Name:": "Janet Doe"})
    assert pairs(pascal)["Full Name:"] == "Janet Doe"
    assert pairs(pascal)["Phone Number:"] == pairs(REAL["Blocks"])["Phone Number:"]


def test_ground_truth_answers_a_task_of_any_page(samples: Path, truth: list[dict],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ground_truth = GroundTruth.load(samples)
    with_missing = [(record, record["page_of_field"][key]) for record in truth for key in record["missing_keys"]]
    record, page = next(((record, page) for record, page in with_missing
                         if any(record["page_of_field"][key] == page for key in record["wrong_values"])),
                        with_missing[0])
    analysis = analysis_for_page(samples, record["document"], page)
    conditions = {"Conditions": [EVERY_PAIR["Conditions"][0],
                                 *({"ConditionType": "MissingImportantFormKey",
                                    "ConditionParameters": {"ImportantFormKey": missing}}
                                   for missing in record["missing_keys"] if record["page_of_field"][missing] == page)]}
    task = task_input(analysis, conditions)
    answer = ground_truth.answer(task)
    assert pairs(answer["blocks"], pascal=False) == fields_on(record, page), "values corrected, missing keys added"
    monkeypatch.setenv(GROUND_TRUTH_ENV, str(samples / GROUND_TRUTH_FILE))
    assert ground_truth_answer(task, {}) == answer
    unknown = task_input({"Blocks": []}, EVERY_PAIR)
    assert ground_truth.answer(unknown) == {"blocks": []}


# ---------------------------------------------------------------------------------------------------------------
# Through the local service, as the batch pipeline uses it


def test_the_service_finds_every_analysis_when_both_folders_go_to_the_input_prefix(
        samples: Path, truth: list[dict], local_service: str) -> None:
    """documents/ and analyses/ uploaded onto one prefix; PDFs split with the pipeline's own splitter and page
    keys (the page objects say their source in their metadata); PNGs analysed as they are."""
    import boto3

    from airflow_a2i.documents import SOURCE_DOCUMENT, SOURCE_PAGE, page_key, split_pdf

    s3, textract, sagemaker = boto3.client("s3"), boto3.client("textract"), boto3.client("sagemaker")
    bucket = unique("samples")
    s3.create_bucket(Bucket=bucket)
    for folder in (DOCUMENTS_DIR, ANALYSES_DIR):
        for path in sorted((samples / folder).rglob("*")):
            if path.is_file():
                key = f"input/{path.relative_to(samples / folder)}"
                s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    ui_arn = sagemaker.create_human_task_ui(
        HumanTaskUiName=unique("ui"),
        UiTemplate={"Content": "<crowd-form><crowd-input name='answer'></crowd-input></crowd-form>"})["HumanTaskUiArn"]
    flow = sagemaker.create_flow_definition(
        FlowDefinitionName=unique("flow"), RoleArn=ROLE_ARN,
        OutputConfig={"S3OutputPath": f"s3://{bucket}/review"},
        HumanLoopRequestSource={"AwsManagedHumanLoopRequestSource": TEXTRACT},
        HumanLoopActivationConfig={"HumanLoopActivationConditionsConfig": {
            "HumanLoopActivationConditions": json.dumps(LOW_CONFIDENCE_CHECK)}},
        HumanLoopConfig={"WorkteamArn": workteam_arn(), "HumanTaskUiArn": ui_arn, "TaskTitle": "Check the form",
                         "TaskDescription": "Correct the values", "TaskCount": 1})["FlowDefinitionArn"]
    chosen = [next(record for record in truth if record["pages"] > 1 and record["low_confidence_keys"]),
              next(record for record in truth if record["format"] == "pdf" and record["pages"] == 1),
              next(record for record in truth if record["format"] == "png")]
    for record in chosen:
        document_uri = f"s3://{bucket}/input/{record['document']}"
        if record["format"] == "pdf":
            body = (samples / DOCUMENTS_DIR / record["document"]).read_bytes()
            objects = []
            for number, page in enumerate(split_pdf(body), start=1):
                key = page_key("work", document_uri, number)
                s3.put_object(Bucket=bucket, Key=key, Body=page,
                              Metadata={SOURCE_DOCUMENT: document_uri, SOURCE_PAGE: str(number)})
                objects.append(key)
        else:
            objects = [f"input/{record['document']}"]
        assert len(objects) == record["pages"]
        for number, key in enumerate(objects, start=1):
            response = textract.analyze_document(
                Document={"S3Object": {"Bucket": bucket, "Name": key}}, FeatureTypes=["FORMS"],
                HumanLoopConfig={"HumanLoopName": unique("page"), "FlowDefinitionArn": flow})
            assert response["Blocks"] == analysis_for_page(samples, record["document"], number)["Blocks"]
            low = [field for field in record["low_confidence_keys"] if record["page_of_field"][field] == number]
            assert ("HumanLoopArn" in response["HumanLoopActivationOutput"]) == bool(low)
