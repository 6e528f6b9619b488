"""What a comparison measures besides the metrics: peak memory of each cell and the hardware it ran on.

Peak memory works on every platform psutil supports; where no peak can be read, the measurement says
"not measured" instead of a number.
"""

from __future__ import annotations

import os
import platform
import threading
from pathlib import Path
from typing import Any

import psutil

NOT_MEASURED = "not measured"
MEMORY_LABELS = {
    "gpu": "peak GPU memory allocated by torch (MiB)",
    "rss": "peak resident memory of the process (MiB)",
    "rss-lifetime": "peak resident memory of the process since it started (MiB, an upper bound)",
    "rss-sampled": "peak resident memory of the process, sampled every 0.1 s (MiB, a lower bound)",
    NOT_MEASURED: "not measured (this platform reports no peak memory)",
}
SAMPLE_SECONDS = 0.1


def _rss_mib() -> float | None:
    """Resident memory of this process now (psutil), or None where it cannot be read."""
    try:
        return psutil.Process().memory_info().rss / 2**20
    except (psutil.Error, OSError):
        return None


def _status_kib(field_name: str) -> int | None:
    """A "VmXxx:" line of Linux's /proc/self/status in KiB, or None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_linux_peak() -> bool:
    """Reset Linux's resident high-water mark (VmHWM) so it measures from now on; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM:") is not None


def _lifetime_peak_mib() -> float | None:
    """The process's peak resident memory since it started: Windows' peak working set, or Linux's VmHWM."""
    try:
        peak = getattr(psutil.Process().memory_info(), "peak_wset", None)
    except (psutil.Error, OSError):
        peak = None
    if peak is not None:
        return peak / 2**20
    hwm = _status_kib("VmHWM:")
    return None if hwm is None else hwm / 1024


class PeakMemory:
    """Peak memory while the block runs; `kind` says what was measured (a key of `MEMORY_LABELS`).

    On a CUDA device: torch's peak allocated GPU memory (its counter is reset on entry). On CPU: the process's peak
    resident set size: Linux's high-water mark reset on entry ("rss"); else the peak since the process started, an
    upper bound ("rss-lifetime", e.g. Windows); else resident memory sampled in a background thread ("rss-sampled",
    e.g. macOS). `peak_mib` is None and `kind` "not measured" when none of these can be read.

    Example:
        >>> with PeakMemory() as memory:
        ...     buffer = bytearray(50 * 2**20)
        >>> memory.kind in MEMORY_LABELS
        True
    """

    def __init__(self) -> None:
        self.kind = NOT_MEASURED
        self.peak_mib: float | None = None
        self.start_mib: float | None = None  # resident (CPU) or allocated (GPU) memory on entry, for reference
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None
        self._sampled: float | None = None

    def __enter__(self) -> PeakMemory:
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            self.kind = "gpu"
            self.start_mib = torch.cuda.memory_allocated() / 2**20
            return self
        self.start_mib = _rss_mib()
        if _reset_linux_peak():
            self.kind = "rss"
        elif _lifetime_peak_mib() is not None:
            self.kind = "rss-lifetime"
        elif self.start_mib is not None:
            self.kind = "rss-sampled"
            self._sampled = self.start_mib
            self._sampler = threading.Thread(target=self._sample, name="hubtune-peak-memory", daemon=True)
            self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            now = _rss_mib()
            if now is not None and (self._sampled is None or now > self._sampled):
                self._sampled = now

    def __exit__(self, *exc_info: Any) -> None:
        if self.kind == "gpu":
            import torch

            self.peak_mib = torch.cuda.max_memory_allocated() / 2**20
        elif self.kind == "rss":
            hwm = _status_kib("VmHWM:")
            self.peak_mib = None if hwm is None else hwm / 1024
        elif self.kind == "rss-lifetime":
            self.peak_mib = _lifetime_peak_mib()
        elif self._sampler is not None:
            self._stop.set()
            self._sampler.join()
            now = _rss_mib()
            self.peak_mib = max((v for v in (self._sampled, now) if v is not None), default=None)
        if self.peak_mib is None:
            self.kind = NOT_MEASURED


def hardware() -> str:
    """What the comparison ran on, in words.

    Example:
        >>> hardware()  # doctest: +SKIP
        'CPU x86_64 (2 cores, 1 torch threads)'
    """
    import torch

    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


__all__ = ["MEMORY_LABELS", "NOT_MEASURED", "PeakMemory", "hardware"]
