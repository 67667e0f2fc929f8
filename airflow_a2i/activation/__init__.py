"""A2I's human loop activation conditions, parsed, validated and evaluated locally.

In four parts: :mod:`.model` (the language's constants and parsed form), :mod:`.parse` (validation, with errors
that say what to change), :mod:`.evaluate` (on a Textract or Rekognition response, as A2I does) and
:mod:`.simulate` (``airflow-a2i activation simulate``). Pure: imports neither Airflow nor boto3.

Built-in task types (Textract ``AnalyzeDocument`` forms, Rekognition ``DetectModerationLabels``) start a human
loop when a flow definition's ``HumanLoopActivationConditions`` hold for the AI service's response. This module
reads that condition language with clear errors, and evaluates it the way A2I does, giving what A2I writes:
``HumanLoopActivationReasons``, ``humanTaskActivationConditionResults``, ``selectedAiServiceResponse`` and the
``humanLoopContext.importantFormKeys`` of the default Textract task UI.

Semantics (read off a real A2I built-in Textract loop, ``tests/fixtures/a2i-textract-output.json``, and the
A2I guide; UNCONFIRMED where a choice had to be made, marked so below):

* ``{"Conditions": [C, ...]}``: a loop starts when any member is true. A member is a simple condition
  ``{"ConditionType", "ConditionParameters"}`` or ``{"And": [...]}`` / ``{"Or": [...]}`` with at least two items;
  at most two levels of And/Or; the whole document at most 10,240 characters.
* Every condition is evaluated (no short-circuit) and gets an ``EvaluationResult``; the results document repeats
  the conditions as written, keys in A2I's (alphabetical) order: simple ``{"ConditionParameters",
  "ConditionType", "EvaluationResult"}``, logical ``{"EvaluationResult", "And"|"Or": [...]}``, all under
  ``{"Conditions": [...]}``.
* Textract key-value pairs: a KEY_VALUE_SET block whose EntityTypes hold KEY, its VALUE blocks (relationship
  VALUE) and the CHILD blocks of both. The key's text is the text of its CHILD WORD blocks joined by single spaces;
  it matches ``ImportantFormKey`` or one of ``ImportantFormKeyAliases`` exactly (case-sensitive, after collapsing
  runs of whitespace); ``"*"`` matches any key.
* ``ImportantFormKeyConfidenceCheck`` is true when a matching pair meets ANY of its thresholds (the thresholds
  combine with OR: A2I flagged "Total" for a key-value confidence of 41.3 < 45 although its words, 99.7-99.8, were
  not < 85). The key-value thresholds test the pair's KEY_VALUE_SET blocks (key and value), the word thresholds
  the WORD blocks of key and value; a threshold holds when any of those blocks meets it (UNCONFIRMED: the
  recorded loop cannot tell "any" from "all").
* ``MissingImportantFormKey`` is true when no key matches; it selects no blocks.
* ``Sampling`` is true when the request's draw, a number in [0, 100) derived from a SHA-256 of the document's
  location (or bytes) and the human loop name, is below ``RandomSamplingPercentage``: the same request always
  gets the same answer, and a higher percentage only adds requests (one draw per request, UNCONFIRMED).
* ``ModerationLabelConfidenceCheck``: a label whose Name equals ``ModerationLabelName`` (case-sensitive) or any
  label for ``"*"``, meeting any of the ``Confidence*`` thresholds.
* Selection (``selectedAiServiceResponse``): the pairs (Textract) or labels (Rekognition) that made a true
  condition true, through true And/Or only. Sampling selects everything, except inside an And with other
  conditions, where it only gates them (the guide: 5% of the Pay Date pairs, only Pay Date is reviewed). The
  selected Textract blocks keep the response's order and A2I's trimmed shape: KEY_VALUE_SET blocks with
  blockType, confidence, entityTypes, geometry (polygon only), id, relationships; their CHILD blocks with
  blockType, id, text (selectionStatus for selection elements); ``{"blocks": [...]}`` and nothing else.
  Rekognition keeps whole labels and ``moderationModelVersion``.
* Responses come in either spelling: Textract's API (PascalCase: Blocks, BlockType, Id, ...) or A2I's output
  (camelCase: blocks, blockType, id, ...); what is returned follows the input's spelling.
"""

from __future__ import annotations

from airflow_a2i.activation.evaluate import (
    ActivationResult,
    Selection,
    conditions_of_flow_definition,
    evaluate,
    evaluate_activation_conditions,
    evaluate_flow_definition,
    sampling_draw,
)
from airflow_a2i.activation.model import (
    ACTIVATION_REASON,
    COMPARISONS,
    KEY_VALUE_BLOCK,
    LABEL,
    MAX_DOCUMENT_CHARACTERS,
    MAX_NESTING,
    REKOGNITION,
    REQUEST_SOURCES,
    TEXTRACT,
    WORD_BLOCK,
    ActivationConditionError,
    Condition,
    Conditions,
    LogicalCondition,
    SimpleCondition,
    Threshold,
)
from airflow_a2i.activation.parse import (
    parse_conditions,
)
from airflow_a2i.activation.simulate import (
    ResponseDocument,
    SimulationReport,
    load_response_documents,
    read_response_document,
    response_source,
    run_simulate,
    simulate,
)

__all__ = [
    "ACTIVATION_REASON",
    "COMPARISONS",
    "KEY_VALUE_BLOCK",
    "LABEL",
    "MAX_DOCUMENT_CHARACTERS",
    "MAX_NESTING",
    "REKOGNITION",
    "REQUEST_SOURCES",
    "TEXTRACT",
    "WORD_BLOCK",
    "ActivationConditionError",
    "ActivationResult",
    "Condition",
    "Conditions",
    "LogicalCondition",
    "ResponseDocument",
    "Selection",
    "SimpleCondition",
    "SimulationReport",
    "Threshold",
    "conditions_of_flow_definition",
    "evaluate",
    "evaluate_activation_conditions",
    "evaluate_flow_definition",
    "load_response_documents",
    "parse_conditions",
    "read_response_document",
    "response_source",
    "run_simulate",
    "sampling_draw",
    "simulate",
]
