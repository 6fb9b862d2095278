"""Training hyperparameters: one frozen dataclass per section of ``training/config.toml``.

``load_config(path=None)`` reads the packaged ``config.toml`` (or the file given) and returns a
``TrainingConfig``; unknown keys, wrong types and out-of-range values are all reported together as one
``InvalidInput``. ``TrainingConfig.flat()`` gives ``{"section.key": value}`` for logging as MLflow params;
``replace(config, section=...)`` (``dataclasses.replace``) derives variants in code and tests.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from matching.errors import InvalidInput, Issue

__all__ = [
    "TrainingConfig",
    "SplitConfig",
    "DatasetConfig",
    "WeightingConfig",
    "ModelConfig",
    "EvaluationConfig",
    "PromotionConfig",
    "load_config",
    "DEFAULT_CONFIG",
]

DEFAULT_CONFIG = Path(__file__).resolve().parent / "config.toml"


@dataclass(frozen=True, slots=True)
class SplitConfig:
    evaluation_fraction: float = 0.2
    calibration_fraction: float = 0.15


@dataclass(frozen=True, slots=True)
class DatasetConfig:
    untried: str = "auto"
    untried_negatives: int = 24
    untried_pool: int = 30
    untried_weight: float = 1.0
    untried_auto_share: float = 0.05


@dataclass(frozen=True, slots=True)
class WeightingConfig:
    inverse_propensity: bool = False
    propensity_clip: float = 0.05


@dataclass(frozen=True, slots=True)
class ModelConfig:
    learning_rate: float = 0.15
    max_iter: int = 80
    success_max_iter: int = 40
    success_stage: str = "auto"
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    max_bins: int = 255
    calibration: str = "sigmoid"
    refit_with_calibration: bool = True
    escalate_below: float = 0.05
    threads: int = 1


@dataclass(frozen=True, slots=True)
class EvaluationConfig:
    ks: tuple[int, ...] = (1, 3, 5, 10)
    candidates: int = 0


@dataclass(frozen=True, slots=True)
class PromotionConfig:
    metric: str = "ndcg_at_5"
    margin: float = 0.005


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    seed: int = 0
    split: SplitConfig = field(default_factory=SplitConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    weighting: WeightingConfig = field(default_factory=WeightingConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)

    def flat(self) -> dict[str, Any]:
        """``{"section.key": value}`` (and ``seed``), values as plain scalars or strings."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if isinstance(value, dict):
                for key, inner in value.items():
                    out[f"{name}.{key}"] = ",".join(map(str, inner)) if isinstance(inner, list | tuple) else inner
            else:
                out[name] = value
        return out


# Allowed values, declared once: (lowest, highest) for numbers, a tuple of choices for strings.
_RANGES: dict[str, tuple[float, float] | tuple[str, ...]] = {
    "split.evaluation_fraction": (0.01, 0.9),
    "split.calibration_fraction": (0.01, 0.9),
    "dataset.untried": ("auto", "always", "never"),
    "dataset.untried_negatives": (0, 1000),
    "dataset.untried_pool": (1, 1000),
    "dataset.untried_auto_share": (0.0, 1.0),
    "dataset.untried_weight": (0.0, 100.0),
    "weighting.propensity_clip": (1e-6, 1.0),
    "model.learning_rate": (1e-4, 1.0),
    "model.max_iter": (1, 10_000),
    "model.success_max_iter": (1, 10_000),
    "model.success_stage": ("auto", "always", "never"),
    "model.max_leaf_nodes": (2, 4096),
    "model.min_samples_leaf": (1, 100_000),
    "model.l2_regularization": (0.0, 1e6),
    "model.max_bins": (2, 255),
    "model.calibration": ("sigmoid", "isotonic"),
    "model.escalate_below": (0.0, 1.0),
    "model.threads": (0, 1024),
    "evaluation.candidates": (0, 100_000),
    "promotion.margin": (-1.0, 1.0),
}


def load_config(path: str | Path | None = None) -> TrainingConfig:
    """Read a TOML config (default: the packaged one); sections or keys left out keep their defaults."""
    source = Path(path) if path is not None else DEFAULT_CONFIG
    shown = str(source)
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        missing = Issue(column=None, expected="a TOML config file", found="no such file", file=shown)
        raise InvalidInput(missing) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(Issue(column=None, expected="valid TOML", found=str(error), file=shown)) from None
    issues: list[Issue] = []
    sections: dict[str, Any] = {}
    defaults = TrainingConfig()
    for key in raw:
        if key not in {f.name for f in fields(TrainingConfig)}:
            issues.append(Issue(column=key, expected="a known section or 'seed'", found="unknown key", file=shown))
    seed = raw.get("seed", defaults.seed)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        issues.append(Issue(column="seed", expected="an integer >= 0", found=repr(seed), file=shown))
    for section in fields(TrainingConfig):
        if section.name == "seed":
            continue
        default_section = getattr(defaults, section.name)
        given = raw.get(section.name, {})
        if not isinstance(given, dict):
            issues.append(Issue(column=section.name, expected="a [section]", found=repr(given), file=shown))
            continue
        values: dict[str, Any] = {}
        known = {f.name: f for f in fields(default_section)}
        for key, value in given.items():
            name = f"{section.name}.{key}"
            if key not in known:
                issues.append(Issue(column=name, expected="a known key", found="unknown key", file=shown))
                continue
            problem = _check(name, value, getattr(default_section, key))
            if problem:
                issues.append(Issue(column=name, expected=problem, found=repr(value), file=shown))
            else:
                values[key] = tuple(value) if isinstance(value, list) else value
        sections[section.name] = type(default_section)(**{**asdict(default_section), **values})
    if issues:
        raise InvalidInput(issues)
    return TrainingConfig(seed=seed, **sections)


def _check(name: str, value: Any, default: Any) -> str | None:
    """What was expected of ``value`` when it is wrong, else None."""
    allowed = _RANGES.get(name)
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(default, tuple):
        ok = isinstance(value, list) and value and all(isinstance(v, int) and 1 <= v <= 50 for v in value)
        return None if ok else "a non-empty list of integers from 1 to 50"
    if isinstance(default, str):
        return None if value in (allowed or (value,)) else f"one of {', '.join(map(str, allowed or ()))}"
    if isinstance(default, int) and (not isinstance(value, int) or isinstance(value, bool)):
        return "an integer"
    if isinstance(default, float) and (not isinstance(value, int | float) or isinstance(value, bool)):
        return "a number"
    if allowed is not None and not (allowed[0] <= value <= allowed[1]):  # type: ignore[operator]
        return f"a value from {allowed[0]} to {allowed[1]}"
    return None
