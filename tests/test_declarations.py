"""The journeys' decision tables (workflows/intake.py): each decision declared once, every rule read
from its declaration, and the code kept within the bounds a reader can hold (issue 10)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from models.case import Stage
from models.decisions import DECISIONS, DecisionModel, DecisionName
from workflows.case_workflow import WITHDRAWAL, CaseWorkflow
from workflows.contributions import AgencyContributions
from workflows.governance import Governance
from workflows.learning_request import LearningRequestWorkflow
from workflows.local_review import LocalReviewWorkflow
from workflows.rapid_review import RapidReview
from workflows.recommendations import Recommendations
from workflows.serious_incident import SeriousIncidentWorkflow

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOWS = [SeriousIncidentWorkflow, LocalReviewWorkflow, LearningRequestWorkflow]
# Every table a decision can be declared in: the withdrawal, each journey's own, each part's.
TABLES = {
    "withdrawal": WITHDRAWAL,
    "SeriousIncidentWorkflow": SeriousIncidentWorkflow.DECISIONS,
    "RapidReview": RapidReview.DECISIONS,
    "Governance": Governance.DECISIONS,
    "AgencyContributions": AgencyContributions.DECISIONS,
    "LocalReviewWorkflow": LocalReviewWorkflow.DECISIONS,
    "Recommendations": Recommendations.DECISIONS,
    "LearningRequestWorkflow": LearningRequestWorkflow.DECISIONS,
}


def decision_models() -> set[type[DecisionModel]]:
    def below(model: type[DecisionModel]) -> set[type[DecisionModel]]:
        return {model}.union(*(below(sub) for sub in model.__subclasses__()))

    return below(DecisionModel) - {DecisionModel}


def test_every_decision_model_is_declared_in_exactly_one_table():
    declared: dict[type[DecisionModel], list[str]] = {model: [] for model in decision_models()}
    for table_name, table in TABLES.items():
        for row in table:
            declared[row.model].append(table_name)
    wrong = {model.__name__: where for model, where in declared.items() if len(where) != 1}
    assert wrong == {}, "each decision model is handled by one declaration: " + str(wrong)


def test_every_decision_has_one_name_one_model_and_an_example():
    assert set(DECISIONS) == set(DecisionName) == {model.name for model in decision_models()}
    examples = {path.stem for path in (PROJECT / "examples" / "decisions").glob("*.json")}
    assert set(DecisionName) <= examples


@pytest.mark.parametrize("journey", WORKFLOWS, ids=lambda w: w.__name__)
def test_a_journeys_tables_declare_each_decision_once(journey):
    names = [row.name for table in journey.tables() for row in table]
    assert len(names) == len(set(names))


def test_the_journeys_take_the_decisions_of_the_contract():
    """examples/README.md, "Decisions by stage": which journey takes which decision."""
    contract = (PROJECT / "examples" / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (serious incident|LCSPR|learning request)[^|]* \| (.+) \|$", contract, re.M))
    listed = {journey: set(re.findall(r"`(\w+)`", names)) for journey, names in rows.items()}
    takes = {w: {row.name.value for table in w.tables() for row in table} for w in WORKFLOWS}
    assert listed["serious incident"] <= takes[SeriousIncidentWorkflow]
    assert listed["LCSPR"] <= takes[LocalReviewWorkflow]
    assert listed["learning request"] <= takes[LearningRequestWorkflow]


def test_the_command_line_routes_the_local_reviews_decisions_from_the_declarations():
    review_only = {
        row.name for table in LocalReviewWorkflow.tables() for row in table
    } - {row.name for table in SeriousIncidentWorkflow.tables() for row in table}
    assert review_only == {
        DecisionName.REVIEWER_COMMISSIONED,
        DecisionName.TERMS_OF_REFERENCE_AGREED,
        DecisionName.FINAL_REPORT_RECEIVED,
        DecisionName.PUBLICATION_SCHEDULED,
        DecisionName.PUBLISHED,
        DecisionName.RECOMMENDATION_UPDATED,
        DecisionName.PUBLICATION_WITHDRAWN,
    }
    shared = SeriousIncidentWorkflow.declared(DecisionName.AGENCY_CONTRIBUTION_RECEIVED)
    assert shared is not None and shared is LocalReviewWorkflow.declared(DecisionName.AGENCY_CONTRIBUTION_RECEIVED)
    assert Stage.RAPID_REVIEW_MEETING in shared.at and Stage.LCSPR_REVIEW in shared.at


def test_withdrawal_is_taken_at_every_open_stage_and_only_there():
    (row,) = WITHDRAWAL
    assert row.at == frozenset(Stage) - {Stage.CLOSED, Stage.WITHDRAWN}
    assert all(row.name is DecisionName.CASE_WITHDRAWN for row in WITHDRAWAL)
    assert CaseWorkflow.declared(DecisionName.CASE_WITHDRAWN) is row


# ---- bounds a reader can hold -----------------------------------------------------------------------

SOURCES = sorted((PROJECT / "workflows").glob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_workflow_module_is_over_300_lines_nor_a_function_over_50(path):
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300, f"{path.name}: {len(text.splitlines())} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= 50, f"{path.name}: {node.name} is {length} lines"


def test_the_type_checker_finds_no_error():
    """mypy (pinned in the test extras; settings in pyproject.toml) on workflows/, models/, activities/."""
    checked = subprocess.run([sys.executable, "-m", "mypy"], cwd=PROJECT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found" in checked.stdout
