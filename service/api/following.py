"""How a worker follows the fleet's desired model version (``service.fleet``): at start-up and every poll.

- ``opening_ranker``: the ranker to start with: the desired version's bundle when the store names one (a
  bundle that does not load is refused and reported; the worker then starts on ``<models_dir>/current`` or
  the baseline, as a store without a desired version does).
- ``converge``: one round: poll the desired version; when it differs from what this worker serves, load its
  bundle with the same checks as a reload (manifest, scikit-learn version, feature names, one recommendation
  on the live catalogue) and swap; a bundle that fails is refused once and the old model keeps serving.
- ``keep_converging``: ``converge`` every ``every`` seconds, so every worker of every replica serves the
  desired version within a few seconds of a reload.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from matching.errors import ModelError
from service.api.deps import Context
from service.bundles import Start, open_bundle, shown, start_ranker
from service.fleet import Follower

__all__ = ["opening_ranker", "converge", "keep_converging"]

log = logging.getLogger("smematch.api")


def opening_ranker(follower: Follower, engine: Engine, models_dir: Path) -> Start:
    """What to start serving with; see the module docstring. Without a desired version that loads, the
    start-up rule of ``service.bundles.start_ranker`` (``current``, else the newest good run, degraded)."""
    try:
        follower.poll(engine)
    except Exception as error:  # the store is down: start on the local bundle, converge once it answers
        log.warning("the desired model version could not be read", extra={"exception": type(error).__name__})
    folder = follower.target(served_version="")
    if folder is not None:
        try:
            ranker = open_bundle(folder, models_dir)
            assert follower.desired is not None
            if ranker.version != follower.desired.version:
                raise ModelError(f"the bundle {shown(folder, models_dir)} holds version {ranker.version!r}, "
                                 f"not {follower.desired.version!r}")
            return Start(ranker, folder)
        except ModelError as error:
            follower.refuse(str(error))
            log.warning("the desired model is refused: %s", error)
    return start_ranker(models_dir)


async def converge(context: Context) -> None:
    """One round of following the desired version (see the module docstring)."""
    follower, state = context.follower, context.state
    # Polled under the lock: a reload in this worker publishes and records its version under it too, so a
    # poll that read the store just before that publication cannot overwrite it with the older version.
    async with context.model_lock:
        await run_in_threadpool(follower.poll, context.engine)
        if not state.ready:
            return
        folder = follower.target(state.current.version)
        desired = follower.desired
        if folder is None or desired is None:
            return
        try:
            _, new = await run_in_threadpool(state.reload, folder, expected_version=desired.version)
        except ModelError as error:
            follower.refuse(str(error))
            log.warning("the desired model is refused: %s", error)
            context.metrics.reloads.labels("refused").inc()
            return
    context.metrics.reloads.labels("followed").inc()
    context.metrics.set_model(new.version, new.describe()["ranker"])


async def keep_converging(context: Context, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await converge(context)
        except Exception as error:  # a failed round is retried next round; the old model keeps serving
            log.warning("following the desired model failed", extra={"exception": type(error).__name__})
