"""What a model bundle's ``manifest.json`` must say, and the checksum that ties it to the bundle's files.

``read_manifest(folder)`` reads at most ``MAX_MANIFEST_BYTES`` and validates the manifest against
``Manifest``: types, ranges and lengths (``escalate_below`` a number in [0, 1], a short printable
``version``, a non-empty list of distinct feature names, a sha256 ``checksum`` of every file). Every fault is
reported in one ``ModelError`` that names each field. Fields it does not know are kept (training may record
more), within the size limit.

``file_checksums(paths)`` hashes files at export; ``verify_checksum(folder, manifest)`` recomputes them at
load, before anything in the bundle is unpickled, and refuses a bundle whose files differ from what its
manifest recorded (a truncated copy, a disk error, a model file swapped under an old manifest).

The checksum detects accident, not malice: whoever can write the models folder can also rewrite the manifest,
and a pickle runs code when it loads. Write access to the models folder must stay with the people and jobs
trusted to run code in the service (``models/README.md``, "Trust").
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from matching.errors import ModelError

__all__ = ["Manifest", "Checksum", "read_manifest", "verify_checksum", "file_checksums", "MAX_MANIFEST_BYTES"]

MAX_MANIFEST_BYTES = 1_000_000
_CHUNK = 1 << 20

_PRINTABLE = r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$"  # printable ASCII, no space at either end
Printable = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_PRINTABLE)]
FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _distinct(names: list[str]) -> list[str]:
    if len(set(names)) != len(names):
        raise ValueError("must not repeat a feature name")
    return names


class Checksum(BaseModel):
    model_config = ConfigDict(extra="forbid")

    algorithm: Literal["sha256"]
    files: dict[FileName, Sha256] = Field(min_length=1, max_length=100)


class Manifest(BaseModel):
    """The fields every bundle's manifest has; others are kept as they are."""

    model_config = ConfigDict(extra="allow")

    version: Printable
    feature_names: Annotated[list[Printable], Field(min_length=1, max_length=1000), AfterValidator(_distinct)]
    escalate_below: Annotated[float, Field(ge=0.0, le=1.0, strict=True), AfterValidator(_finite)]
    need_evidence_below: Annotated[float, Field(ge=0.0, le=1.0, strict=True), AfterValidator(_finite)] = 0.0
    stages: Annotated[list[Literal["take_up", "success"]], Field(min_length=1, max_length=2)] = ["take_up"]
    soft_rules: Annotated[list[Literal["active", "region", "sector", "amount", "capacity"]],
                          Field(max_length=5)] = []
    sklearn_version: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z.+-]+$")]
    metrics: dict[Annotated[str, StringConstraints(max_length=100)], float | None] = Field(default_factory=dict,
                                                                                        max_length=500)
    data_digest: Annotated[str, StringConstraints(max_length=128)] | None = None
    trained_at: Annotated[str, StringConstraints(max_length=64)] | None = None
    checksum: Checksum


def _problems(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "manifest"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def read_manifest(folder: Path, *, name: str = "manifest.json") -> dict[str, Any]:
    """The validated manifest of the bundle in ``folder``, as a dict. Raises ``ModelError`` naming every fault."""
    path = folder / name
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise ModelError(f"no model bundle at {folder}: {name} is missing") from None
    except OSError as error:
        raise ModelError(f"model bundle at {folder}: {name} cannot be read ({error.strerror})") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ModelError(f"model bundle at {folder}: {name} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        values = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ModelError(f"model bundle at {folder} has an unreadable manifest: {error}") from None
    if not isinstance(values, dict):
        raise ModelError(f"model bundle at {folder}: manifest must be a JSON object")
    try:
        manifest = Manifest.model_validate(values)
    except ValidationError as error:
        raise ModelError(f"model bundle at {folder} has an invalid manifest: {_problems(error)}") from None
    return manifest.model_dump()


def file_checksums(paths: Mapping[str, Path]) -> dict[str, Any]:
    """The ``checksum`` entry of a manifest for files given as {name in the bundle: where it is now}."""
    return {"algorithm": "sha256", "files": {name: _sha256(path) for name, path in sorted(paths.items())}}


def verify_checksum(folder: Path, manifest: Mapping[str, Any], *, required: tuple[str, ...] = ()) -> None:
    """Refuse the bundle unless each file its manifest lists (and each of ``required``) hashes as recorded."""
    files: dict[str, str] = manifest["checksum"]["files"]
    missing = [name for name in required if name not in files]
    if missing:
        raise ModelError(f"model bundle at {folder}: the manifest's checksum does not cover {', '.join(missing)}")
    for name, expected in files.items():
        try:
            found = _sha256(folder / name)
        except FileNotFoundError:
            raise ModelError(f"no model bundle at {folder}: {name} is missing") from None
        except OSError as error:
            raise ModelError(f"model bundle at {folder}: {name} cannot be read ({error.strerror})") from None
        if found != expected:
            raise ModelError(f"model bundle at {folder}: checksum mismatch for {name} (the file differs from the "
                             "one exported with this manifest)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
