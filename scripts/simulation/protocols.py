# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Acquisition protocols (frame timing) of the renogram simulator.

A protocol is a list of phases, each ``(number of frames, frame duration in s)``; frames are back to back from the
acquisition start (t = 0 s, injection at or just after it), with no pause between frames or phases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Protocol", "PROTOCOLS", "DEFAULT_PROTOCOL", "get_protocol"]


@dataclass(frozen=True)
class Protocol:
    """Frame timing of a dynamic acquisition.

    Args:
        name: short identifier used on the command line and in ``truth.json``.
        phases: ``((frames, duration_s), ...)`` in acquisition order.
        description: where the protocol comes from.
    """

    name: str
    phases: tuple[tuple[int, float], ...]
    description: str = ""

    @property
    def n_frames(self) -> int:
        """Total number of frames."""
        return int(sum(n for n, _ in self.phases))

    def frame_durations_s(self) -> np.ndarray:
        """Duration of every frame in seconds, shape ``(T,)``."""
        return np.concatenate([np.full(n, float(d)) for n, d in self.phases])

    def frame_starts_s(self) -> np.ndarray:
        """Start of every frame in seconds from the acquisition start, shape ``(T,)``."""
        d = self.frame_durations_s()
        return np.concatenate([[0.0], np.cumsum(d)[:-1]])

    @property
    def total_s(self) -> float:
        """Acquisition length in seconds."""
        return float(sum(n * d for n, d in self.phases))


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("paper136", ((60, 1.0), (76, 15.0)), "60 x 1 s + 76 x 15 s = 20 min (the paper's 136 frames)"),
        Protocol("eanm117", ((30, 2.0), (87, 20.0)), "30 x 2 s + 87 x 20 s = 30 min"),
        Protocol("real58", ((24, 2.1), (34, 30.1)), "24 x 2.1 s + 34 x 30.1 s = 17.9 min (the timing of the real adult MAG3 file)"),
        Protocol("10s120", ((120, 10.0),), "120 x 10 s = 20 min (WWSSF audit)"),
        Protocol("10s180", ((180, 10.0),), "180 x 10 s = 30 min (drsprg)"),
        Protocol("quick39", ((20, 3.0), (19, 60.0)), "20 x 3 s + 19 x 60 s = 20 min (tests and quick looks)"),
    )
}
DEFAULT_PROTOCOL = "paper136"


def get_protocol(name: str) -> Protocol:
    """Look up a protocol by name.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}") from None
