"""Leakage between splits: sequences shared exactly or as reverse complements, duplicates within a split, and dedup.

Every count is over distinct sequences (with the rows involved counted separately), so the numbers match what a
reader of ``leakage.json`` expects: e.g. 42 train/test exact overlaps in GUE prom_core_all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from hubtune.errors import DataError

from .sequences import reverse_complement_unchecked
from .task import SPLITS, TaskData

__all__ = ["LeakageReport", "deduplicate", "leakage_report"]


@dataclass
class LeakageReport:
    """Overlap between splits (exact and reverse-complement) and duplicates within splits.

    For a pair ``a/b`` (train/dev, train/test, dev/test), ``exact`` counts distinct sequences of ``b`` that also
    occur in ``a``; ``reverse_complement`` counts the other distinct sequences of ``b`` whose reverse complement
    occurs in ``a``; the ``*_rows`` fields count rows of ``b`` involved; ``label_conflicts`` counts exactly shared
    sequences whose label differs between the splits. Within a split, ``duplicated_sequences`` counts distinct
    sequences seen more than once and ``extra_rows`` the rows that a dedup would drop.

    Example:
        >>> report = leakage_report(task)  # doctest: +SKIP
        >>> print("\\n".join(report.summary_lines()))  # doctest: +SKIP
        42 distinct test sequences also occur in train (exact; 42 test rows)
    """

    task: str
    split_sizes: dict[str, int]
    distinct: dict[str, int]
    pairs: dict[str, dict[str, Any]]
    within: dict[str, dict[str, Any]]

    @property
    def has_duplicates(self) -> bool:
        """True when any split repeats a sequence, exactly or as its reverse complement."""
        return any(w.get("duplicated_sequences") or w.get("reverse_complement_pairs") for w in self.within.values())

    @property
    def has_leak(self) -> bool:
        """True when any sequence of dev/test also occurs (exactly or reverse-complemented) in an earlier split."""
        return any(p["exact"] or p["reverse_complement"] for p in self.pairs.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what goes into ``leakage.json``)."""
        return {
            "task": self.task,
            "has_leak": self.has_leak,
            "split_sizes": dict(self.split_sizes),
            "distinct_sequences": dict(self.distinct),
            "pairs": {k: dict(v) for k, v in self.pairs.items()},
            "within_split": {k: dict(v) for k, v in self.within.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, task: str = "") -> LeakageReport:
        """The report back from ``to_dict``'s output (a run's ``leakage.json``); `task` fills a missing name.

        Example:
            >>> LeakageReport.from_dict({"task": "t", "pairs": {}}).has_leak
            False
        """
        return cls(
            task=data.get("task", task),
            split_sizes=data.get("split_sizes", {}),
            distinct=data.get("distinct_sequences", {}),
            pairs=data.get("pairs", {}),
            within=data.get("within_split", {}),
        )

    def summary_lines(self) -> list[str]:
        """Human-readable lines, one per finding."""
        lines: list[str] = []
        for key, p in self.pairs.items():
            a, b = key.split("/")
            if p["exact"]:
                lines.append(
                    f"{p['exact']} distinct {b} sequences also occur in {a} (exact; {p['exact_rows']} {b} rows)"
                    + (f", {p['label_conflicts']} of them with a different label" if p["label_conflicts"] else "")
                )
            if p["reverse_complement"]:
                lines.append(
                    f"{p['reverse_complement']} distinct {b} sequences are reverse complements of {a} sequences "
                    f"({p['reverse_complement_rows']} {b} rows)"
                )
        for s, w in self.within.items():
            if w["duplicated_sequences"]:
                lines.append(
                    f"{w['duplicated_sequences']} sequences appear more than once within {s} "
                    f"({w['extra_rows']} extra rows"
                    + (f", {w['label_conflicts']} with conflicting labels" if w["label_conflicts"] else "")
                    + ")"
                )
            if w.get("reverse_complement_pairs"):
                lines.append(f"{w['reverse_complement_pairs']} sequences within {s} are reverse complements of other "
                             f"{s} sequences")
        if not lines:
            lines.append("no sequence is shared between splits and no split has duplicates (exact or reverse "
                         "complement)")
        elif not self.has_leak:
            lines.insert(0, "no sequence is shared between splits")
        return lines


def leakage_report(task: TaskData, *, max_examples: int = 5) -> LeakageReport:
    """Count sequences shared between splits (exactly and as reverse complements) and duplicates within splits.

    ``max_examples`` bounds the example sequences (with their ids) kept per split pair and per split.

    Example:
        >>> report = leakage_report(load_task("my_task/"))  # doctest: +SKIP
        >>> report.pairs["train/test"]["exact"], report.has_leak  # doctest: +SKIP
        (42, True)
    """
    names = [s for s in SPLITS if s in task.splits]
    index: dict[str, dict[str, list[int]]] = {}
    for s in names:
        d: dict[str, list[int]] = {}
        for i, seq in enumerate(task.splits[s].sequences):
            d.setdefault(seq, []).append(i)
        index[s] = d
    pairs: dict[str, dict[str, Any]] = {}
    for ai, a in enumerate(names):
        for b in names[ai + 1 :]:
            ia, ib = index[a], index[b]
            sa, sb = task.splits[a], task.splits[b]
            exact = [seq for seq in ib if seq in ia]
            rc = [seq for seq in ib if seq not in ia and reverse_complement_unchecked(seq) in ia]
            conflicts = sum(1 for seq in exact if {sa.labels[i] for i in ia[seq]} != {sb.labels[i] for i in ib[seq]})
            examples = []
            for kind, seqs in (("exact", exact), ("reverse_complement", rc)):
                for seq in seqs[: max(0, max_examples - len(examples))]:
                    other = seq if kind == "exact" else reverse_complement_unchecked(seq)
                    examples.append(
                        {
                            "match": kind,
                            "sequence": seq,
                            f"{a}_ids": [sa.ids[i] for i in ia[other][:3]],
                            f"{b}_ids": [sb.ids[i] for i in ib[seq][:3]],
                        }
                    )
            pairs[f"{a}/{b}"] = {
                "exact": len(exact),
                "exact_rows": sum(len(ib[s]) for s in exact),
                "reverse_complement": len(rc),
                "reverse_complement_rows": sum(len(ib[s]) for s in rc),
                "label_conflicts": conflicts,
                "examples": examples,
            }
    within: dict[str, dict[str, Any]] = {}
    for s in names:
        sp = task.splits[s]
        dups = [(seq, idx) for seq, idx in index[s].items() if len(idx) > 1]
        rc_pairs = [seq for seq in index[s] if seq < (rc := reverse_complement_unchecked(seq)) and rc in index[s]]
        canonical = {min(seq, reverse_complement_unchecked(seq)) for seq in index[s]}
        within[s] = {
            "duplicated_sequences": len(dups),
            "extra_rows": sum(len(idx) - 1 for _, idx in dups),
            "label_conflicts": sum(1 for _, idx in dups if len({sp.labels[i] for i in idx}) > 1),
            "reverse_complement_pairs": len(rc_pairs),
            # rows a dedup would drop in all: exact repeats plus one orientation of each reverse-complement pair
            "extra_rows_with_reverse_complements": len(sp) - len(canonical),
            "examples": [
                {"sequence": seq, "ids": [sp.ids[i] for i in idx[:5]], "count": len(idx)}
                for seq, idx in dups[:max_examples]
            ],
            "reverse_complement_examples": [
                {"sequence": seq, "ids": [sp.ids[index[s][seq][0]],
                                          sp.ids[index[s][reverse_complement_unchecked(seq)][0]]]}
                for seq in rc_pairs[:max_examples]
            ],
        }
    return LeakageReport(
        task=task.name,
        split_sizes={s: len(task.splits[s]) for s in names},
        distinct={s: len(index[s]) for s in names},
        pairs=pairs,
        within=within,
    )


def deduplicate(task: TaskData, report: LeakageReport | None = None) -> TaskData:
    """Return a copy of ``task`` without leakage or repeats; a warning says exactly what was removed.

    A sequence and its reverse complement count as the same molecule. Within every split (train included) only the
    first row of each sequence is kept, and removed from dev and test is every row whose sequence (or reverse
    complement) occurs in an earlier split (train, then dev).

    Raises:
        DataError: a split would be left empty.

    Example:
        >>> clean = deduplicate(task)  # doctest: +SKIP
        >>> leakage_report(clean).has_leak, leakage_report(clean).has_duplicates  # doctest: +SKIP
        (False, False)
    """
    if report is not None and not report.has_leak and not report.has_duplicates:
        return replace(task, splits=dict(task.splits), warnings=[*task.warnings, "--dedup: nothing to remove"])
    new_splits = dict(task.splits)
    seen_before: set[str] = set()
    removed: dict[str, tuple[int, int]] = {}
    for s in SPLITS:
        if s not in task.splits:
            continue
        sp = task.splits[s]
        keep: list[int] = []
        here: set[str] = set()
        overlap = dup = 0
        for i, seq in enumerate(sp.sequences):
            key = min(seq, reverse_complement_unchecked(seq))
            if key in seen_before:
                overlap += 1
            elif key in here:
                dup += 1
            else:
                here.add(key)
                keep.append(i)
        if not keep and len(sp):
            raise DataError(
                f"task {task.name!r}: removing overlaps would leave the {s} split empty (all {len(sp)} rows occur in "
                "an earlier split). The splits are not independent; re-split the data (e.g. pass a single file)."
            )
        new_splits[s] = sp.subset(keep)
        removed[s] = (overlap, dup)
        seen_before |= here
    warnings = list(task.warnings)
    parts = [f"{s}: {o} rows shared with earlier splits, {d} repeated rows (exact or reverse complement)"
             for s, (o, d) in removed.items() if o or d]
    warnings.append("--dedup removed " + "; ".join(parts) if parts else "--dedup: nothing to remove")
    return replace(task, splits=new_splits, warnings=warnings)
