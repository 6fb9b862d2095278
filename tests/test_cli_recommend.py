"""`smematch recommend`: one text or a JSON-lines file, from a data folder, as JSON or a table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app

from engine_fixtures import city_institutions
from factories import valid_frames, write_tables

runner = CliRunner()


@pytest.fixture()
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMEMATCH_MODELS_DIR", str(tmp_path / "models"))  # no bundle: the baseline serves
    frames = valid_frames()
    return write_tables(tmp_path / "data", frames, institutions=city_institutions(), outcomes=None)


def test_one_text_gives_one_json_result_with_the_contract_fields(data: Path) -> None:
    result = runner.invoke(app, ["recommend", "--data", str(data), "--text", "需要流动资金贷款", "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    body = json.loads(line)
    assert {"institutions", "categories", "escalate", "escalate_reason"} <= body.keys()
    assert len(body["institutions"]) == 3
    assert {"institution_id", "name", "kind", "score", "reasons"} <= body["institutions"][0].keys()
    assert body["institutions"][0]["kind"] in {"bank", "microcredit"}
    assert body["model_version"] == "baseline-1"


def test_a_jsonl_file_gives_one_result_per_line_in_order(data: Path, tmp_path: Path) -> None:
    lines = [{"text": "grid connection"}, {"text": "xqzv blorf"}, {"text": "培训技术工人", "sector": "manufacturing"}]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    result = runner.invoke(app, ["recommend", "--data", str(data), "--input", str(path), "--json"])
    assert result.exit_code == 0, result.output
    bodies = [json.loads(x) for x in result.stdout.strip().splitlines()]
    assert len(bodies) == 3
    assert bodies[0]["institutions"][0]["kind"] == "government"
    assert bodies[1]["escalate"] is True and bodies[1]["institutions"] == []
    assert bodies[2]["institutions"][0]["kind"] == "college"


def test_lang_zh_gives_each_reason_as_code_params_and_chinese_text(data: Path) -> None:
    arguments = ["recommend", "--data", str(data), "--text", "需要流动资金贷款", "-k", "2", "--json"]
    english = json.loads(runner.invoke(app, arguments).stdout)
    chinese = json.loads(runner.invoke(app, [*arguments, "--lang", "zh"]).stdout)
    first, first_zh = english["institutions"][0]["reasons"], chinese["institutions"][0]["reasons"]
    assert [(r["code"], r["params"]) for r in first] == [(r["code"], r["params"]) for r in first_zh]
    assert first[-1]["text"].startswith("eligibility passed: ") and first_zh[-1]["text"].startswith("资格审核通过：")
    table = runner.invoke(app, ["recommend", "--data", str(data), "--text", "需要流动资金贷款", "--lang", "zh"])
    assert table.exit_code == 0 and "资格审核通过" in table.stdout


def test_the_table_view_names_the_institutions(data: Path) -> None:
    result = runner.invoke(app, ["recommend", "--data", str(data), "--text", "boiler energy saving retrofit"])
    assert result.exit_code == 0, result.output
    assert "R03" in result.stdout  # the Energy Conservation Research Centre


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--text", "   "], "'text'"),
        (["--text", "loan", "--sector", "mining"], "--sector"),
        (["--text", "loan", "--amount", "-5"], "'amount'"),
        (["--text", "loan", "-k", "0"], "'k'"),
        (["--text", "loan", "--region", "Atlantis"], "'region'"),
        ([], "--text/--input"),
        (["--text", "loan", "--lang", "fr"], "--lang"),
    ],
)
def test_bad_input_exits_non_zero_naming_the_field(data: Path, arguments: list[str], message: str) -> None:
    result = runner.invoke(app, ["recommend", "--data", str(data), *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_broken_jsonl_line_is_reported_with_its_line_number(data: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "loan"}\n{not json}\n{"sector": "agriculture"}\n', encoding="utf-8")
    result = runner.invoke(app, ["recommend", "--data", str(data), "--input", str(path), "--json"])
    assert result.exit_code == 2
    assert "row 2" in result.output and "row 3" in result.output
