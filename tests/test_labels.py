"""Labels with meaning: `--label-names` parsing, and the GUE catalogue picked up from a GUE-style path."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from hubtune.data import gue_dataset, load_task, parse_label_names
from hubtune.data.catalogue import GUE_TASKS, find_gue_task
from hubtune.errors import ConfigError


def _write_task(folder: Path, length: int = 70, labels=("0", "1"), splits=("train", "dev", "test")) -> Path:
    folder.mkdir(parents=True)
    rng = random.Random(0)
    for split in splits:
        rows = ["sequence,label"]
        for i in range(8):
            rows.append("".join(rng.choice("ACGT") for _ in range(length)) + "," + labels[i % len(labels)])
        (folder / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.parametrize(("value", "expected"), [
    (None, None),
    ("", None),
    ("0=non-promoter,1=promoter", ["non-promoter", "promoter"]),
    (" 1 = promoter , 0 = non-promoter ", ["non-promoter", "promoter"]),
    ("non-promoter,promoter", ["non-promoter", "promoter"]),
    (["a", "b", "c"], ["a", "b", "c"]),
    ({1: "promoter", 0: "background"}, ["background", "promoter"]),
    ({"0": "x", "1": "y"}, ["x", "y"]),
])
def test_label_names_forms(value, expected):
    assert parse_label_names(value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("0=a,2=b", "no name for label id 1"),
    ("0=a,0=b", "label id 0 is named twice"),
    ("a,a", "'a' is given to more than one label id"),
    ("a,,b", "label id 1 has an empty name"),
    ("0=a,1= ", "label id 1 has an empty name"),
    ("x=a,1=b", "'x' is not a label id"),
    ("-1=a,0=b", "'-1' is not a label id"),
    ({0: "a", 1.5: "b"}, "'1.5' is not a label id"),
    ("0=a,b", "mixes id=name and plain names"),
    ("promoter", "only one class named"),
])
def test_label_names_errors_name_the_option(value, message):
    with pytest.raises(ConfigError, match="--label-names") as err:
        parse_label_names(value)
    assert message in str(err.value)


def test_catalogue_covers_the_28_gue_tasks():
    assert len(GUE_TASKS) == 28
    for task in GUE_TASKS.values():
        data = task.to_dict()
        assert data["species"] and data["sequence_length_bp"] > 0 and data["license"] and data["citation"]
        assert data["references"][0]["url"] == "https://arxiv.org/abs/2306.15006"
        names = [entry["name"] for entry in data["labels"]]
        assert len(set(names)) == len(names)
        assert names or data["label_note"]


def test_gue_path_gives_names_and_description(tmp_path):
    folder = _write_task(tmp_path / "GUE" / "prom" / "prom_core_tata")
    task = load_task(folder)
    assert task.label_names == ["non-promoter", "promoter"]
    assert task.splits["train"].labels[:2] == [0, 1]  # raw 0/1 keep their ids; the names are display names
    assert task.dataset["task"] == "prom/prom_core_tata"
    assert task.dataset["species"] == "Homo sapiens (human)"
    assert task.dataset["sequence_length_bp"] == 70 and task.dataset["length_bp_in_data"] == [70, 70]
    assert task.dataset["negatives"] and "EPDnew" in task.dataset["source"]
    assert [entry["meaning"] for entry in task.dataset["labels"]][1].startswith("a human promoter")
    # names given by the user win; the description stays
    task = load_task(folder, label_names=parse_label_names("0=background,1=tata-promoter"))
    assert task.label_names == ["background", "tata-promoter"] and task.dataset["task"] == "prom/prom_core_tata"


def test_other_paths_get_no_description(tmp_path):
    task = load_task(_write_task(tmp_path / "data" / "prom_core_tata"))
    assert task.dataset is None and task.label_names == ["0", "1"]
    # a folder named like a GUE task whose labels are not that task's: not described, and the user is told
    task = load_task(_write_task(tmp_path / "GUE" / "prom" / "prom_300_all", labels=("a", "b", "c")))
    assert task.dataset is None and task.label_names == ["a", "b", "c"]
    assert any("GUE task prom/prom_300_all" in w for w in task.warnings)


def test_flattened_gue_copies_and_split_files(tmp_path):
    task = load_task(_write_task(tmp_path / "GUE" / "tf0", length=101))
    assert task.name == "tf0" and task.label_names == ["not-bound", "bound"]
    folder = _write_task(tmp_path / "GUE" / "EMP" / "H3", length=500, splits=("dev",))
    task = load_task(folder / "dev.csv")  # a task shipped without train: one file, split here
    assert task.name == "H3" and task.label_names == ["no-H3", "H3"]
    task = load_task(_write_task(tmp_path / "GUE" / "mouse" / "3", length=101))
    assert task.name == "mouse_3" and task.dataset["species"] == "Mus musculus (mouse)"  # not a bare "3"
    assert find_gue_task(tmp_path / "GUE" / "splice" / "reconstructed").key == "splice/reconstructed"
    assert gue_dataset(tmp_path / "GUE" / "tf" / "9") is None
