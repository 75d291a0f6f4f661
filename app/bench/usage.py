"""CPU and memory of each service during a benchmark, sampled per process tree.

A service is a process and everything it started (the job is the CLI, its Spark JVM and the
Python workers Spark forks and retires), so each sample walks the tree again. psutil measures a
process's CPU between two calls on the same ``Process`` object, so the objects are kept from one
sample to the next; a process seen for the first time contributes its CPU from the next sample
on. CPU is in percent of one core (200 % is both cores of this machine), memory is resident set
size in MiB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Usage:
    """One service's usage at one sample."""

    cpu_percent: float
    rss_mib: float
    processes: int


class TreeSampler:
    """Samples the process trees rooted at the given pids, one per service name."""

    def __init__(self, roots: Mapping[str, int]) -> None:
        """``roots`` maps a service's name to the pid of its top process."""
        self.roots = dict(roots)
        self._known: dict[int, psutil.Process] = {}

    def add(self, name: str, pid: int) -> None:
        """Sample one more service from the next sample on (safe while another thread samples)."""
        self.roots = {**self.roots, name: pid}

    def sample(self) -> dict[str, Usage]:
        """Each service's usage since the previous sample; a service that has ended is absent."""
        found: dict[str, Usage] = {}
        alive: set[int] = set()
        for name, pid in self.roots.items():
            tree = self._tree(pid)
            if not tree:
                continue
            cpu = rss = 0.0
            counted = 0
            for process in tree:
                try:
                    cpu += process.cpu_percent(interval=None)
                    rss += process.memory_info().rss
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
                alive.add(process.pid)
                counted += 1
            found[name] = Usage(round(cpu, 1), round(rss / 2**20, 1), counted)
        # Forget processes that ended, so a reused pid is not mistaken for them.
        self._known = {pid: p for pid, p in self._known.items() if pid in alive}
        return found

    def _tree(self, pid: int) -> list[psutil.Process]:
        try:
            root = self._process(pid)
            members = [root, *root.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return []
        tree = []
        for member in members:
            try:
                tree.append(self._process(member.pid, member))
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue  # it ended (or changed hands) between the listing and now
        return tree

    def _process(self, pid: int, fresh: psutil.Process | None = None) -> psutil.Process:
        known = self._known.get(pid)
        if known is None or not known.is_running():
            known = fresh or psutil.Process(pid)
            known.cpu_percent(interval=None)  # the first call only starts the measurement
            self._known[pid] = known
        return known
