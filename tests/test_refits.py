"""Specification of ``Refits``: requests return at once, a burst leads to few refits, and every request is
followed by a refit that starts after it."""

from __future__ import annotations

import asyncio
import time

from service.api.refits import Refits


def _run(scenario) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(scenario())


def test_a_burst_of_requests_is_coalesced_into_few_refits_and_the_last_one_is_covered() -> None:
    started: list[float] = []

    async def refit() -> None:
        started.append(time.monotonic())
        await asyncio.sleep(0.05)

    async def scenario() -> None:
        refits = Refits(refit, quiet_seconds=0.1, max_delay_seconds=0.3)
        refits.start()
        try:
            last = 0.0
            for _ in range(50):  # one request every 20 ms for a second
                began = time.perf_counter()
                refits.request()
                assert time.perf_counter() - began < 0.01  # never waits for a refit
                last = time.monotonic()
                await asyncio.sleep(0.02)
            await asyncio.wait_for(refits.settled(), timeout=5)
        finally:
            await refits.stop()
        assert 2 <= len(started) <= 6  # about one per max delay, and one after the burst
        assert started[-1] >= last  # the last request is refitted

    _run(scenario)


def test_a_single_request_is_refitted_after_the_quiet_period() -> None:
    started: list[float] = []

    async def refit() -> None:
        started.append(time.monotonic())

    async def scenario() -> None:
        refits = Refits(refit, quiet_seconds=0.2, max_delay_seconds=5.0)
        refits.start()
        try:
            asked = time.monotonic()
            refits.request()
            await asyncio.wait_for(refits.settled(), timeout=5)
        finally:
            await refits.stop()
        assert len(started) == 1 and started[0] - asked >= 0.19

    _run(scenario)


def test_a_failing_refit_does_not_stop_later_ones() -> None:
    calls: list[int] = []

    async def refit() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the store went away")

    async def scenario() -> None:
        refits = Refits(refit, quiet_seconds=0.01, max_delay_seconds=0.05)
        refits.start()
        try:
            refits.request()
            await asyncio.wait_for(refits.settled(), timeout=5)
            refits.request()
            await asyncio.wait_for(refits.settled(), timeout=5)
        finally:
            await refits.stop()
        assert len(calls) == 2

    _run(scenario)
