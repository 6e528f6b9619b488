"""Leakage between splits, deduplication and describe, on a planted task and on real GUE data."""

from __future__ import annotations

import json

import pytest
from data_helpers import csv_text, gue, rows, write

from hubtune.data import DataError, Split, TaskData, deduplicate, describe, leakage_report, load_task


def planted_task() -> TaskData:
    train = ["AAAACCCC", "GGGGTTTA", "ACGTACGA", "CCCCAAAT", "AAAACCCC"]  # one within-train duplicate
    dev = [
        "AAAACCCC",  # exact in train
        "TAAACCCC",  # reverse complement of GGGGTTTA
        "TTTTGGGA",
        "TTTTGGGA",  # within-dev duplicate
        "GATTACAG",
    ]
    test = [
        "AAAACCCC",  # exact in train (and dev)
        "AAAACCCC",
        "ATTTGGGG",  # reverse complement of CCCCAAAT
        "GATTACAG",  # exact in dev
        "CTGTAATC",  # reverse complement of GATTACAG (dev)
        "CATGCATG",  # clean
    ]

    def split(seqs, prefix):
        return Split(list(seqs), [i % 2 for i in range(len(seqs))], [f"{prefix}{i}" for i in range(len(seqs))])

    return TaskData(
        "planted",
        "mem",
        {"train": split(train, "tr"), "dev": split(dev, "dv"), "test": split(test, "te")},
        ["0", "1"],
        [],
        "given",
    )


def test_leakage_counts_on_planted_task():
    rep = leakage_report(planted_task(), max_examples=2)
    d = rep.to_dict()
    assert rep.has_leak and d["has_leak"] is True
    assert d["pairs"]["train/dev"]["exact"] == 1
    assert d["pairs"]["train/dev"]["reverse_complement"] == 1
    assert d["pairs"]["train/test"]["exact"] == 1
    assert d["pairs"]["train/test"]["exact_rows"] == 2
    assert d["pairs"]["train/test"]["reverse_complement"] == 1
    assert d["pairs"]["dev/test"]["exact"] == 2  # AAAACCCC and GATTACAG
    assert d["pairs"]["dev/test"]["reverse_complement"] == 1  # CTGTAATC
    assert d["within_split"]["train"] == {**d["within_split"]["train"], "duplicated_sequences": 1, "extra_rows": 1}
    assert d["within_split"]["dev"]["duplicated_sequences"] == 1
    assert d["within_split"]["test"]["extra_rows"] == 1
    assert d["distinct_sequences"] == {"train": 4, "dev": 4, "test": 5}
    ex = d["pairs"]["train/test"]["examples"]
    assert len(ex) == 2 and ex[0] == {
        "match": "exact",
        "sequence": "AAAACCCC",
        "train_ids": ["tr0", "tr4"],
        "test_ids": ["te0", "te1"],
    }
    assert ex[1]["match"] == "reverse_complement" and ex[1]["train_ids"] == ["tr3"]
    json.dumps(d)  # JSON-ready
    text = "\n".join(rep.summary_lines())
    assert "1 distinct test sequences also occur in train" in text and "reverse complements" in text


def test_deduplicate_removes_overlaps_and_within_split_duplicates():
    task = planted_task()
    clean = deduplicate(task, leakage_report(task))
    assert clean.splits["train"].sequences == task.splits["train"].sequences[:4]  # the repeat inside train goes too
    assert clean.splits["dev"].sequences == ["TTTTGGGA", "GATTACAG"]
    assert clean.splits["test"].sequences == ["CATGCATG"]
    assert clean.splits["test"].ids == ["te5"]
    rep = leakage_report(clean)
    assert not rep.has_leak
    assert rep.within["dev"]["duplicated_sequences"] == 0 and rep.within["test"]["duplicated_sequences"] == 0
    assert clean.warnings[-1] == ("--dedup removed train: 0 rows shared with earlier splits, 1 repeated rows (exact or "
                                  "reverse complement); dev: 2 rows shared with earlier splits, 1 repeated rows (exact "
                                  "or reverse complement); test: 5 rows shared with earlier splits, 0 repeated rows "
                                  "(exact or reverse complement)")
    assert task.splits["test"].sequences[0] == "AAAACCCC"  # input not modified


def test_duplicates_only_inside_test_are_reported_and_removed():
    """No sequence crosses splits; test repeats one sequence exactly and holds another with its reverse complement."""
    task = planted_task()
    task.splits["train"] = Split(["CCCCCCCA", "GGGGGGGA"], [0, 1], ["a", "b"])
    task.splits["dev"] = Split(["CACACACC", "GAGAGAGG"], [0, 1], ["c", "d"])
    task.splits["test"] = Split(["AAAAACGT", "AAAAACGT", "ACGTTTTT", "TTGCATGC", "CATGCATG"], [0, 0, 0, 1, 1],
                                ["t1", "t2", "t3", "t4", "t5"])
    rep = leakage_report(task)
    assert not rep.has_leak and rep.has_duplicates
    assert rep.within["test"]["duplicated_sequences"] == 1
    assert rep.within["test"]["reverse_complement_pairs"] == 1  # ACGTTTTT is AAAAACGT reverse-complemented
    assert rep.within["test"]["extra_rows_with_reverse_complements"] == 2
    assert "1 sequences within test are reverse complements of other test sequences" in rep.summary_lines()
    clean = deduplicate(task, rep)
    assert clean.splits["test"].ids == ["t1", "t4", "t5"]
    assert not leakage_report(clean).has_duplicates
    assert "test: 0 rows shared with earlier splits, 2 repeated rows" in clean.warnings[-1]


def test_deduplicate_says_when_there_is_nothing_to_remove():
    task = planted_task()
    task.splits = {"train": Split(["CCCCCCCA"], [0], ["a"]), "dev": Split(["CACACACC"], [0], ["c"]),
                   "test": Split(["AAAAACGT"], [1], ["t"])}
    assert deduplicate(task).warnings[-1] == "--dedup: nothing to remove"
    assert deduplicate(task, leakage_report(task)).warnings[-1] == "--dedup: nothing to remove"


def test_deduplicate_refuses_to_empty_a_split():
    task = planted_task()
    task.splits["test"] = Split(["AAAACCCC"], [0], ["t"])
    with pytest.raises(DataError, match="test split empty"):
        deduplicate(task)


def test_describe(tmp_path):
    data = rows(30, length=10) + [("ACGTACGTACGTACGTACGT", "a")]
    info = describe(load_task(write(tmp_path / "d.csv", csv_text(data)), seed=3))
    assert info["label_names"] == ["a", "b"]
    assert sum(s["n"] for s in info["splits"].values()) == 31
    assert sum(s["class_counts"]["a"] for s in info["splits"].values()) == 16
    lengths = [s["length"] for s in info["splits"].values()]
    assert min(x["min"] for x in lengths) == 10 and max(x["max"] for x in lengths) == 20
    assert lengths[0]["median"] == 10
    json.dumps(info)


# ---------------------------------------------------------------------------------------------------------------------
# Real GUE data (present in CI at ../shared/data/GUE)


def test_gue_prom_core_all_leakage_42():
    task = load_task(gue("prom/prom_core_all"))
    rep = leakage_report(task)
    assert sum(len(s) for s in task.splits.values()) == 47_356 + 5_920 + 5_920
    assert rep.pairs["train/test"]["exact"] == 42
    clean = deduplicate(task, rep)
    assert leakage_report(clean).pairs["train/test"]["exact"] == 0


def test_gue_prom_core_tata_leakage_16():
    task = load_task(gue("prom/prom_core_tata"))
    assert leakage_report(task).pairs["train/test"]["exact"] == 16
    assert task.label_names == ["non-promoter", "promoter"]  # named from the built-in GUE catalogue


def test_gue_splice_dev_test_shared_30(tmp_path):
    src = gue("splice/reconstructed")
    with pytest.raises(DataError, match="no train file"):
        load_task(src)
    folder = tmp_path / "splice"
    folder.mkdir()
    for name in ("dev.csv", "test.csv"):
        (folder / name).write_bytes((src / name).read_bytes())
    # A tiny unrelated train file so the folder loads; dev/test are the real files.
    write(folder / "train.csv", "sequence,label\nCCCCCCCCCC,0\nGGGGGGGGGA,1\nAAAAAAAAAC,2\n")
    rep = leakage_report(load_task(folder))
    assert rep.pairs["dev/test"]["exact"] == 30
