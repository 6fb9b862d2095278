"""The ranker as a self-contained MLflow model: problems in, ranked institutions out.

``RankerModel`` is an ``mlflow.pyfunc.PythonModel`` whose artifacts are files, not pickled estimators:

- ``bundle``: the folder written by ``matching.save_bundle`` (joblib + manifest; checked by ``load_bundle``);
- ``institutions``: the institutions table (Parquet, served sectors/regions as ';'-joined text);
- ``track``: ``institution_id, status`` of the outcomes known at training time (the track record);
- ``regions``: JSON list of every district known at training time (enterprises' too).

``predict`` takes a DataFrame with ``text`` and optional ``problem_id``, ``sector``, ``region``, ``amount``
(and ``k`` as a param, default 5) and returns one row per problem and rank (``problem_index`` is the input
row; an escalated problem has one row with rank 0 and its reason). ``model_signature`` and ``input_example``
describe that contract for ``mlflow.pyfunc.log_model``. This module imports mlflow: import it lazily.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from matching import Matcher, load_bundle

__all__ = ["RankerModel", "write_artifacts", "model_signature", "input_example", "OUTPUT_COLUMNS"]

OUTPUT_COLUMNS = ("problem_index", "problem_id", "rank", "institution_id", "name", "kind", "score", "escalate",
                  "escalate_reason", "model_version")
INPUT_COLUMNS = ("problem_id", "enterprise_id", "text", "sector", "region", "amount")


class RankerModel(mlflow.pyfunc.PythonModel):
    """Rebuilds the matcher from its artifacts on load; ranks with the bundled learned ranker."""

    def load_context(self, context: Any) -> None:
        artifacts = context.artifacts
        ranker = load_bundle(artifacts["bundle"])
        institutions = pd.read_parquet(artifacts["institutions"])
        track = pd.read_parquet(artifacts["track"])
        cases = pd.read_parquet(artifacts["cases"]) if "cases" in artifacts else None
        regions = json.loads(Path(artifacts["regions"]).read_text(encoding="utf-8"))
        self.matcher_ = Matcher(ranker).fit(institutions, outcomes=track, regions=regions, problems=cases)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        frame = pd.DataFrame(model_input).reset_index(drop=True)
        frame = frame[[c for c in INPUT_COLUMNS if c in frame.columns]]
        k = int((params or {}).get("k", 5))
        rows: list[dict[str, Any]] = []
        for index, recommendation in enumerate(self.matcher_.recommend(frame, k=k)):
            base = {"problem_index": index, "problem_id": recommendation.problem_id,
                    "escalate": recommendation.escalate, "escalate_reason": recommendation.escalate_reason,
                    "model_version": recommendation.model_version}
            if not recommendation.institutions:
                rows.append({**base, "rank": 0, "institution_id": None, "name": None, "kind": None,
                             "score": np.nan})
            for item in recommendation.institutions:
                rows.append({**base, "rank": item.rank, "institution_id": item.institution_id, "name": item.name,
                             "kind": item.kind, "score": item.score})
        out = pd.DataFrame.from_records(rows, columns=list(OUTPUT_COLUMNS))
        return out.astype({"problem_index": np.int64, "rank": np.int64, "score": np.float64, "escalate": bool})


def write_artifacts(folder: Path, *, institutions: pd.DataFrame, outcomes: pd.DataFrame, regions: list[str],
                    problems: pd.DataFrame) -> dict[str, str]:
    """Write the matcher's inputs next to a bundle: the institutions, the outcomes and the problems they name
    (with their enterprise's district and sector: the history of cases), the districts; returns the artifact
    paths by name (bundle excluded)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = institutions.copy()
    for column in ("sectors", "regions"):
        if column in table:
            table[column] = table[column].map(lambda v: ";".join(v) if isinstance(v, tuple | list) else v)
    paths = {"institutions": folder / "institutions.parquet", "track": folder / "track.parquet",
             "cases": folder / "cases.parquet", "regions": folder / "regions.json"}
    table.to_parquet(paths["institutions"], index=False)
    track = outcomes[["problem_id", "institution_id", "status"]].astype(str)
    track["recorded_at"] = pd.to_datetime(outcomes["recorded_at"]).to_numpy()
    track.to_parquet(paths["track"], index=False)
    named = problems[problems["problem_id"].astype(str).isin(set(track["problem_id"]))]
    columns = [c for c in ("problem_id", "enterprise_id", "text", "amount", "sector", "region") if c in named]
    named[columns].astype({"problem_id": str}).to_parquet(paths["cases"], index=False)
    paths["regions"].write_text(json.dumps(sorted(regions), ensure_ascii=False), encoding="utf-8")
    return {name: str(path) for name, path in paths.items()}


def model_signature() -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema([
        ColSpec("string", "problem_id", required=False),
        ColSpec("string", "enterprise_id", required=False),
        ColSpec("string", "text"),
        ColSpec("string", "sector", required=False),
        ColSpec("string", "region", required=False),
        ColSpec("double", "amount", required=False),
    ])
    outputs = Schema([
        ColSpec("long", "problem_index"),
        ColSpec("string", "problem_id", required=False),
        ColSpec("long", "rank"),
        ColSpec("string", "institution_id", required=False),
        ColSpec("string", "name", required=False),
        ColSpec("string", "kind", required=False),
        ColSpec("double", "score", required=False),
        ColSpec("boolean", "escalate"),
        ColSpec("string", "escalate_reason", required=False),
        ColSpec("string", "model_version"),
    ])
    return ModelSignature(inputs=inputs, outputs=outputs, params=ParamSchema([ParamSpec("k", "long", 5)]))


def input_example(sector: str, region: str) -> pd.DataFrame:
    """Two problems, one English and one Chinese, in a sector and region the model knows."""
    return pd.DataFrame({
        "problem_id": ["example-1", "example-2"],
        "enterprise_id": ["example-enterprise", "example-enterprise"],
        "text": ["We need a loan of 2 million yuan to buy new equipment", "员工技能培训，需要招聘技术工人"],
        "sector": [sector, sector],
        "region": [region, region],
        "amount": [2_000_000.0, 0.0],
    })
