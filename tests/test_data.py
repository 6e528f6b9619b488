"""Tests for the data layer: formats, validation messages, splits, labels, leakage, dedup and the example task."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hubtune.data import (
    DataError,
    Split,
    TaskData,
    clean_sequence,
    deduplicate,
    describe,
    example_task_path,
    leakage_report,
    load_task,
    parse_sequence_text,
    read_sequences,
    reverse_complement,
)
from hubtune.errors import ConfigError
from hubtune.example_task import generate_promoter_task

GUE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "GUE"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _offline_hf(tmp_path_factory, monkeypatch):
    """Keep any Hugging Face cache in a temp dir and make sure nothing tries the network."""
    home = tmp_path_factory.getbasetemp() / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def hf_offline(tmp_path, monkeypatch):
    """Also patch the constants that datasets/huggingface_hub froze at import time (another test may import first)."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_datasets_cache")


def write(path: Path, text: str, *, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def rows(n: int, labels=("a", "b"), length: int = 12, seed: int = 0) -> list[tuple[str, str]]:
    """Distinct pseudo-random sequences with cycling labels."""
    import random

    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        s = "".join(rng.choice("ACGT") for _ in range(length))
        if s not in seen:
            seen.add(s)
            out.append((s, labels[len(out) % len(labels)]))
    return out


def csv_text(data, header="sequence,label", sep=",") -> str:
    return header + "\n" + "".join(f"{s}{sep}{lab}\n" for s, lab in data)


def make_folder(root: Path, splits=("train", "dev", "test"), n=(40, 10, 10), suffix=".csv") -> Path:
    data = rows(sum(n))
    start = 0
    for name, k in zip(splits, n, strict=False):
        chunk = data[start : start + k]
        start += k
        sep = "\t" if suffix.startswith(".tsv") else ","
        text = csv_text(chunk, header=f"sequence{sep}label", sep=sep)
        if suffix.endswith(".gz"):
            (root / f"{name}{suffix}").parent.mkdir(parents=True, exist_ok=True)
            (root / f"{name}{suffix}").write_bytes(gzip.compress(text.encode()))
        else:
            write(root / f"{name}{suffix}", text)
    return root


# ---------------------------------------------------------------------------------------------------------------------
# Formats


def test_gue_style_csv_folder_keeps_given_splits_and_ids(tmp_path):
    folder = make_folder(tmp_path / "my_task")
    task = load_task(folder)
    assert task.name == "my_task"
    assert task.source == str(folder)
    assert task.split_origin == "given"
    assert [len(task.splits[s]) for s in ("train", "dev", "test")] == [40, 10, 10]
    assert task.label_names == ["a", "b"]
    assert task.splits["train"].ids[0] == "train.csv:2"  # header is line 1
    assert set(task.splits["train"].labels) == {0, 1}
    assert task.warnings == []


@pytest.mark.parametrize("suffix", [".tsv", ".csv.gz", ".tsv.gz"])
def test_folder_accepts_tsv_and_gzip(tmp_path, suffix):
    task = load_task(make_folder(tmp_path / "t", suffix=suffix))
    assert [len(task.splits[s]) for s in ("train", "dev", "test")] == [40, 10, 10]


def test_folder_of_fasta_files(tmp_path):
    data = rows(30)
    folder = tmp_path / "fa_task"
    for name, chunk in (("train", data[:20]), ("dev", data[20:25]), ("test", data[25:])):
        write(folder / f"{name}.fa", "".join(f">{name}{i}|{lab}\n{s}\n" for i, (s, lab) in enumerate(chunk)))
    task = load_task(folder)
    assert task.splits["dev"].ids == [f"dev{i}" for i in range(5)]
    assert task.label_names == ["a", "b"]


def test_folder_with_parquet_files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = rows(60)
    folder = tmp_path / "pq"
    folder.mkdir()
    for name, chunk in (("train", data[:40]), ("dev", data[40:50]), ("test", data[50:])):
        table = pa.table({"sequence": [s for s, _ in chunk], "label": [1 if lab == "b" else 0 for _, lab in chunk]})
        pq.write_table(table, folder / f"{name}.parquet")
    task = load_task(folder)
    assert task.label_names == ["0", "1"]
    assert task.splits["test"].sequences == [s for s, _ in data[50:]]


def test_missing_dev_is_split_from_train_stratified_and_seeded(tmp_path):
    folder = make_folder(tmp_path / "nodev", splits=("train", "test"), n=(90, 10))
    a = load_task(folder, seed=1)
    b = load_task(folder, seed=1)
    c = load_task(folder, seed=2)
    assert a.splits["dev"].ids == b.splits["dev"].ids
    assert a.splits["dev"].ids != c.splits["dev"].ids
    assert len(a.splits["train"]) + len(a.splits["dev"]) == 90
    assert len(a.splits["dev"]) == 10  # 0.1 / (0.8 + 0.1) of 90
    assert Counter(a.splits["dev"].labels) == {0: 5, 1: 5}
    assert not set(a.splits["dev"].ids) & set(a.splits["train"].ids)
    assert "dev random stratified from train (seed 1" in a.split_origin


def test_single_csv_is_split_stratified_reproducibly(tmp_path):
    data = rows(300, labels=("x", "x", "y"))  # 2:1 class ratio
    path = write(tmp_path / "all.csv", csv_text(data))
    a = load_task(path)
    b = load_task(path)
    assert a.name == "all"
    assert a.split_origin == "random stratified (seed 42, 80/10/10)"
    assert {s: a.splits[s].ids for s in a.splits} == {s: b.splits[s].ids for s in b.splits}
    assert [len(a.splits[s]) for s in ("train", "dev", "test")] == [240, 30, 30]
    for s in ("train", "dev", "test"):
        counts = Counter(a.splits[s].labels)
        assert counts[0] == 2 * counts[1]  # stratified: the 2:1 ratio is kept in every split
    all_ids = a.splits["train"].ids + a.splits["dev"].ids + a.splits["test"].ids
    assert sorted(all_ids) == sorted(f"all.csv:{i}" for i in range(2, 302))
    other = load_task(path, seed=7, split_fractions=(0.6, 0.2, 0.2))
    assert other.splits["test"].ids != a.splits["test"].ids
    assert [len(other.splits[s]) for s in ("train", "dev", "test")] == [180, 60, 60]


def test_single_file_split_column_is_honoured(tmp_path):
    data = rows(12)
    names = ["train"] * 6 + ["validation"] * 3 + ["TEST"] * 3
    text = "sequence,label,split\n" + "".join(f"{s},{lab},{sp}\n" for (s, lab), sp in zip(data, names, strict=True))
    task = load_task(write(tmp_path / "withsplit.csv", text))
    assert task.split_origin == "given (split column)"
    assert task.splits["dev"].sequences == [s for s, _ in data[6:9]]
    assert task.splits["test"].sequences == [s for s, _ in data[9:]]


def test_single_tsv_and_parquet_with_custom_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = rows(50)
    tsv = write(tmp_path / "d.tsv", csv_text(data, header="dna\tclass", sep="\t"))
    task = load_task(tsv, sequence_column="dna", label_column="class")
    assert sum(len(s) for s in task.splits.values()) == 50
    pq.write_table(pa.table({"dna": [s for s, _ in data], "y": [lab for _, lab in data]}), tmp_path / "d.parquet")
    task = load_task(tmp_path / "d.parquet", sequence_column="dna", label_column="y")
    assert task.label_names == ["a", "b"]
    assert sum(len(s) for s in task.splits.values()) == 50


def test_fasta_labels_in_header_both_styles_and_gzip(tmp_path):
    data = rows(40)
    lines = []
    for i, (s, lab) in enumerate(data):
        header = f">r{i} label={lab} extra=1" if i % 2 else f">r{i}|{lab} some description"
        lines += [header, s[:6], s[6:].lower()]  # wrapped, lowercase
    text = "\n".join(lines) + "\n"
    task = load_task(write(tmp_path / "seqs.fa", text))
    ids = {
        i: (seq, lab)
        for sp in task.splits.values()
        for i, seq, lab in zip(sp.ids, sp.sequences, sp.labels, strict=True)
    }
    assert set(ids) == {f"r{i}" for i in range(40)}
    assert ids["r0"] == (data[0][0], 0)
    assert ids["r1"] == (data[1][0], 1)
    (tmp_path / "seqs.fasta.gz").write_bytes(gzip.compress(text.encode()))
    gz = load_task(tmp_path / "seqs.fasta.gz")
    assert gz.name == "seqs"
    assert {s: gz.splits[s].ids for s in gz.splits} == {s: task.splits[s].ids for s in task.splits}


def test_fasta_with_labels_file(tmp_path):
    data = rows(30)
    fa = write(tmp_path / "x.fna", "".join(f">id{i} desc\n{s}\n" for i, (s, _) in enumerate(data)))
    labels = write(tmp_path / "labels.csv", "id,label\n" + "".join(f"id{i},{lab}\n" for i, (_, lab) in enumerate(data)))
    task = load_task(fa, labels_file=labels)
    assert task.label_names == ["a", "b"]
    assert sum(len(s) for s in task.splits.values()) == 30
    write(tmp_path / "short.csv", "id,label\nid0,a\n")
    with pytest.raises(DataError) as err:
        load_task(fa, labels_file=tmp_path / "short.csv")
    msg = str(err.value)
    assert "x.fna, line 3" in msg and "'id1'" in msg and "labels file" in msg


def test_fasta_duplicate_ids_with_labels_file_are_refused(tmp_path):
    # Labels are looked up by id: two records sharing an id must not silently share one label.
    fa = write(tmp_path / "dup.fa", ">a\nACGTACGT\n>b\nTTTTGGGG\n>a x\nGGGGCCCC\n")
    labels = write(tmp_path / "labels.csv", "id,label\na,x\nb,y\n")
    with pytest.raises(DataError) as err:
        load_task(fa, labels_file=labels)
    msg = str(err.value)
    assert "dup.fa, line 5" in msg and "'a'" in msg and "line 1" in msg


def test_csv_field_longer_than_csv_default_limit_loads(tmp_path):
    # csv refuses fields over 131,072 characters unless the limit is raised; FASTA has no such limit.
    data = rows(20)
    big = ("ACGT" * 50_000)[:200_000]
    path = write(tmp_path / "big.csv", csv_text(data) + f"{big},a\n")
    task = load_task(path)
    assert max(len(s) for sp in task.splits.values() for s in sp.sequences) == 200_000
    assert read_sequences(write(tmp_path / "big_in.csv", f"sequence\n{big}\n")) == [("big_in.csv:2", big)]


def test_fasta_split_tokens_are_honoured(tmp_path):
    data = rows(10)
    sp = ["train"] * 6 + ["dev"] * 2 + ["test"] * 2
    text = "".join(f">s{i} label={lab} split={sp[i]}\n{s}\n" for i, (s, lab) in enumerate(data))
    task = load_task(write(tmp_path / "s.fa", text))
    assert task.splits["test"].ids == ["s8", "s9"]
    assert task.split_origin == "given (split column)"


def test_fasta_record_without_label_names_record_and_line(tmp_path):
    fa = write(tmp_path / "nolab.fa", ">a label=x\nACGT\n>b\nACGT\n")
    with pytest.raises(DataError) as err:
        load_task(fa)
    msg = str(err.value)
    assert "nolab.fa, line 3" in msg and "'b'" in msg and "label=" in msg and "--labels-file" in msg


def test_hf_dataset_saved_to_disk_with_classlabel(tmp_path, hf_offline):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    data = rows(40)
    feats = Features({"sequence": Value("string"), "label": ClassLabel(names=["zeta", "alpha"])})

    def ds(chunk):
        return Dataset.from_dict(
            {"sequence": [s for s, _ in chunk], "label": [0 if lab == "a" else 1 for _, lab in chunk]}, features=feats
        )

    DatasetDict({"train": ds(data[:30]), "validation": ds(data[30:35]), "test": ds(data[35:])}).save_to_disk(
        tmp_path / "saved"
    )
    task = load_task(tmp_path / "saved")
    assert task.split_origin == "given"
    assert task.label_names == ["zeta", "alpha"]  # ClassLabel order kept, not re-sorted
    assert task.splits["dev"].sequences == [s for s, _ in data[30:35]]
    assert task.splits["train"].labels[:2] == [0, 1]
    assert task.splits["train"].ids[0] == "train:1"


def test_hf_load_dataset_on_folder_of_data_files(tmp_path, hf_offline):
    data = rows(40)
    folder = tmp_path / "jsonl_task"
    folder.mkdir()
    for name, chunk in (("train", data[:30]), ("test", data[30:])):
        with open(folder / f"{name}.jsonl", "w") as fh:
            for s, lab in chunk:
                fh.write(json.dumps({"seq": s, "y": lab}) + "\n")
    task = load_task(folder, sequence_column="seq", label_column="y")
    assert task.name == "jsonl_task"
    assert len(task.splits["test"]) == 10
    assert len(task.splits["train"]) + len(task.splits["dev"]) == 30
    assert "dev random stratified from train" in task.split_origin


def test_unknown_hub_id_gives_data_error_offline(tmp_path, monkeypatch, hf_offline):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as err:
        load_task("nobody-here/no-such-dataset-xyz")
    assert "no-such-dataset-xyz" in str(err.value) and "Hugging Face dataset" in str(err.value)


# ---------------------------------------------------------------------------------------------------------------------
# Validation errors


def test_missing_file_and_path_like_source(tmp_path):
    with pytest.raises(DataError) as err:
        load_task(tmp_path / "nope.csv")
    assert "nope.csv" in str(err.value) and "no such file" in str(err.value)


def test_zero_byte_and_whitespace_only_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty \(0 bytes\)"):
        load_task(empty)
    write(tmp_path / "blank.csv", "\n \n")
    with pytest.raises(DataError, match=r"blank\.csv: the file holds only whitespace"):
        load_task(tmp_path / "blank.csv")
    write(tmp_path / "head.csv", "sequence,label\n")
    with pytest.raises(DataError, match=r"head\.csv: the file has a header but no data rows"):
        load_task(tmp_path / "head.csv")


def test_missing_columns_lists_found_and_suggests_options(tmp_path):
    path = write(tmp_path / "cols.csv", "seq,target\nACGT,a\n")
    with pytest.raises(DataError) as err:
        load_task(path)
    msg = str(err.value)
    assert "cols.csv, line 1" in msg and "'seq'" in msg and "'target'" in msg and "--sequence-column" in msg
    with pytest.raises(DataError) as err:
        load_task(path, sequence_column="seq")
    assert "--label-column" in str(err.value) and "'label'" in str(err.value)


def test_empty_sequence_names_file_and_line(tmp_path):
    path = write(tmp_path / "e.csv", "sequence,label\nACGT,a\n  ,b\n")
    with pytest.raises(DataError) as err:
        load_task(path)
    assert "e.csv, line 3, column 'sequence'" in str(err.value) and "empty" in str(err.value)


@pytest.mark.parametrize("value", ["", "NaN", "nan", "  "])
def test_empty_or_nan_label_names_file_and_line(tmp_path, value):
    path = write(tmp_path / "l.csv", f"sequence,label\nACGT,a\nACGA,b\nACGG,{value}\n")
    with pytest.raises(DataError) as err:
        load_task(path)
    assert "l.csv, line 4, column 'label'" in str(err.value) and "empty or NaN" in str(err.value)


def test_only_one_class_in_train(tmp_path):
    folder = tmp_path / "one"
    write(folder / "train.csv", csv_text(rows(10, labels=("a",))))
    write(folder / "test.csv", csv_text(rows(4, labels=("a",), seed=3)))
    with pytest.raises(DataError) as err:
        load_task(folder)
    msg = str(err.value)
    assert "train.csv" in msg and "only one class" in msg and "'a'" in msg and "--label-column" in msg


def test_label_in_test_absent_from_train_names_file_and_line(tmp_path):
    folder = make_folder(tmp_path / "unseen")
    test_rows = rows(3, labels=("a", "b", "c"), seed=9)
    write(folder / "test.csv", csv_text(test_rows))
    with pytest.raises(DataError) as err:
        load_task(folder)
    msg = str(err.value)
    assert "test.csv, line 4" in msg and "'c'" in msg and "train" in msg


def test_non_dna_character_names_line_position_and_char(tmp_path):
    path = write(tmp_path / "bad.csv", "sequence,label\nACGT,a\nACGTXACG,b\n")
    with pytest.raises(DataError) as err:
        load_task(path)
    msg = str(err.value)
    assert "bad.csv, line 3, column 'sequence'" in msg and "'X'" in msg and "position 5" in msg


def test_rna_and_gap_characters_get_hints():
    with pytest.raises(DataError, match="RNA: replace U with T"):
        clean_sequence("ACGU", where="w")
    with pytest.raises(DataError, match="Gaps"):
        clean_sequence("AC-GT", where="w")


def test_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"sequence,label\nAC\x00\x01\x02GT,a\n")
    with pytest.raises(DataError) as err:
        load_task(path)
    assert "bin.csv, line 2" in str(err.value) and "binary" in str(err.value)
    path.write_bytes(b"sequence,label\nACGT,\xff\xfe\xfa\n")
    with pytest.raises(DataError) as err:
        load_task(path)
    assert "bin.csv, line 2" in str(err.value) and "UTF-8" in str(err.value)
    path.write_bytes(b"PK\x03\x04rest-of-a-zip")
    with pytest.raises(DataError, match="Excel"):
        load_task(path)


def test_bom_and_crlf_are_tolerated(tmp_path):
    data = rows(30)
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text(data).replace("\n", "\r\n").encode())
    task = load_task(path)
    assert sorted(s for sp in task.splits.values() for s in sp.sequences) == sorted(s for s, _ in data)
    assert task.label_names == ["a", "b"]  # no '\r' glued to the labels


def test_wrong_delimiter_is_detected_with_hint(tmp_path):
    path = write(tmp_path / "semi.csv", "sequence;label\nACGT;a\n")
    with pytest.raises(DataError) as err:
        load_task(path)
    msg = str(err.value)
    assert "semi.csv, line 1" in msg and "';'" in msg and "semicolon" in msg and "comma-separated" in msg
    tab = write(tmp_path / "tabs.csv", "sequence\tlabel\nACGT\ta\n")
    with pytest.raises(DataError, match=r"tab-separated.*\.tsv"):
        load_task(tab)


def test_wrong_field_count_and_headerless_file(tmp_path):
    path = write(tmp_path / "f.csv", "sequence,label\nACGT,a\nACGT,a,extra\n")
    with pytest.raises(DataError, match=r"f\.csv, line 3: expected 2 fields"):
        load_task(path)
    path = write(tmp_path / "nohead.csv", "ACGTACGTAC,a\nACGTACGTAA,b\n")
    with pytest.raises(DataError, match=r"nohead\.csv, line 1: the first line looks like data"):
        load_task(path)


def test_folder_missing_train_or_test_lists_contents(tmp_path):
    folder = make_folder(tmp_path / "notest", splits=("train", "dev"), n=(20, 5))
    with pytest.raises(DataError) as err:
        load_task(folder)
    msg = str(err.value)
    assert str(folder) in msg and "no test file" in msg and "'dev.csv'" in msg and "'train.csv'" in msg
    gue_like = make_folder(tmp_path / "devtest", splits=("dev", "test"), n=(5, 5))
    with pytest.raises(DataError) as err:
        load_task(gue_like)
    assert "no train file" in str(err.value) and "GUE" in str(err.value)


def test_bad_options_are_config_errors(tmp_path):
    path = write(tmp_path / "ok.csv", csv_text(rows(20)))
    with pytest.raises(ConfigError):
        load_task(path, split_fractions=(0.5, 0.1, 0.1))
    with pytest.raises(ConfigError):
        load_task(path, max_rows=0)
    with pytest.raises(ConfigError, match="FASTA"):
        load_task(path, labels_file=write(tmp_path / "lab.csv", "id,label\nx,a\n"))


# ---------------------------------------------------------------------------------------------------------------------
# Cleaning and labels


def test_clean_sequence_rules():
    assert clean_sequence("acgtn", where="w") == ("ACGTN", 0)
    assert clean_sequence(" AC GT\t", where="w") == ("ACGT", 0)
    assert clean_sequence("ACRYKMSWBDHVT", where="w") == ("AC" + "N" * 10 + "T", 10)
    with pytest.raises(DataError, match=r"^row 7: character 'Z' at position 3"):
        clean_sequence("acZ", where="row 7")
    with pytest.raises(DataError, match="empty"):
        clean_sequence("   ", where="w")


def test_iupac_codes_become_n_with_counted_warning(tmp_path):
    data = rows(20)
    data[3] = ("ACGRYACGT", data[3][1])  # line 5 of the file
    data[10] = ("ACGTW", data[10][1])
    task = load_task(write(tmp_path / "iu.csv", csv_text(data)))
    assert "converted 3 IUPAC codes to N in iu.csv (first at line 5)" in task.warnings
    assert "ACGNNACGT" in [s for sp in task.splits.values() for s in sp.sequences]


def test_string_labels_sorted_and_numeric_labels_sorted_numerically(tmp_path):
    task = load_task(write(tmp_path / "s.csv", csv_text(rows(30, labels=("promoter", "background", "enhancer")))))
    assert task.label_names == ["background", "enhancer", "promoter"]
    task = load_task(write(tmp_path / "n.csv", csv_text(rows(30, labels=("10", "2", "1")))))
    assert task.label_names == ["1", "2", "10"]
    seq_to_label = {s: lab for s, lab in rows(30, labels=("10", "2", "1"))}
    for sp in task.splits.values():
        for s, lab in zip(sp.sequences, sp.labels, strict=True):
            assert task.label_names[lab] == seq_to_label[s]


def test_label_names_fix_order_or_name_integer_ids(tmp_path):
    path = write(tmp_path / "s.csv", csv_text(rows(20, labels=("neg", "pos"))))
    task = load_task(path, label_names=["pos", "neg"])
    assert task.label_names == ["pos", "neg"]
    first = dict(rows(20, labels=("neg", "pos")))
    sp = task.splits["train"]
    assert all(task.label_names[lab] == first[s] for s, lab in zip(sp.sequences, sp.labels, strict=True))
    ints = load_task(write(tmp_path / "i.csv", csv_text(rows(20, labels=("0", "1")))), label_names=["neg", "pos"])
    assert ints.label_names == ["neg", "pos"]
    with pytest.raises(DataError, match="not among the label names"):
        load_task(path, label_names=["x", "y"])


def test_max_rows_caps_each_split_stratified(tmp_path):
    task = load_task(write(tmp_path / "big.csv", csv_text(rows(400))), max_rows=50)
    assert len(task.splits["train"]) == 50
    assert Counter(task.splits["train"].labels) == {0: 25, 1: 25}
    assert len(task.splits["test"]) == 40
    assert any("at most 50 rows" in w for w in task.warnings)


def test_reverse_complement():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgR") == "Ycgt"
    with pytest.raises(DataError):
        reverse_complement("ACXT")


# ---------------------------------------------------------------------------------------------------------------------
# Unlabelled input


def test_read_sequences_fasta_gz_txt_csv_and_text(tmp_path):
    fa = write(tmp_path / "in.fasta", ">chr1:100-200 promoter?\nACGT\nacgt\n>second\nNNRA\n")
    assert read_sequences(fa) == [("chr1:100-200", "ACGTACGT"), ("second", "NNNA")]
    (tmp_path / "in.fa.gz").write_bytes(gzip.compress(fa.read_bytes()))
    assert read_sequences(str(tmp_path / "in.fa.gz")) == read_sequences(fa)
    txt = write(tmp_path / "in.txt", "ACGT\n\n# comment\nTTTT\n", newline="\r\n")
    assert read_sequences(txt) == [("in.txt:1", "ACGT"), ("in.txt:4", "TTTT")]
    csvf = write(tmp_path / "in.csv", "id,sequence\nx1,ACGT\nx2,GGCC\n")
    assert read_sequences(csvf) == [("x1", "ACGT"), ("x2", "GGCC")]
    tsv = write(tmp_path / "in.tsv", "sequence\tother\nACGT\t1\n")
    assert read_sequences(tsv) == [("in.tsv:2", "ACGT")]
    assert read_sequences("ACGT\ngggg") == [("seq1", "ACGT"), ("seq2", "GGGG")]


def test_read_sequences_errors_name_location(tmp_path):
    with pytest.raises(DataError, match=r"missing\.fa: file not found"):
        read_sequences(str(tmp_path / "missing.fa"))
    bad = write(tmp_path / "bad.txt", "ACGT\nAC!T\n")
    with pytest.raises(DataError, match=r"bad\.txt, line 2: character '!' at position 3"):
        read_sequences(bad)
    nocol = write(tmp_path / "nocol.csv", "a,b\nACGT,1\n")
    with pytest.raises(DataError, match="--sequence-column"):
        read_sequences(nocol)


def test_read_sequences_file_with_only_comments_names_the_file(tmp_path):
    empty = write(tmp_path / "empty.txt", "\n# only comments\n\n")
    with pytest.raises(DataError, match=r"empty\.txt: no sequences"):
        read_sequences(empty)
    with pytest.raises(DataError, match="no sequences"):
        parse_sequence_text("# just a note\n")


@pytest.mark.parametrize("name", ["nohead.fa", "nohead.fasta.gz", "nohead.fna"])
def test_read_sequences_fasta_suffix_without_first_header(tmp_path, name):
    # A FASTA suffix means FASTA even when the first header is missing: the message says so, not "bad base '>'".
    text = "ACGTACGT\n>r1\nACGT\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    with pytest.raises(DataError, match=rf"{name}, line 1: sequence data before the first '>' header"):
        read_sequences(path)


def test_parse_sequence_text():
    assert parse_sequence_text(">a x\nAC\nGT\n>b\nTT") == [("a", "ACGT"), ("b", "TT")]
    assert parse_sequence_text("\ufeff acgt \n\n ccgg") == [("seq1", "ACGT"), ("seq2", "CCGG")]
    with pytest.raises(DataError, match="no sequences"):
        parse_sequence_text("  \n ")
    with pytest.raises(DataError, match=r"pasted text, line 2: character 'Q' at position 2"):
        parse_sequence_text("ACGT\nAQ")
    with pytest.raises(DataError, match=r"record 'b' \(line 3\): the record has no sequence"):
        parse_sequence_text(">a\nAC\n>b\n")


# ---------------------------------------------------------------------------------------------------------------------
# Leakage and dedup


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
    assert clean.splits["train"].sequences == task.splits["train"].sequences  # train untouched
    assert clean.splits["dev"].sequences == ["TTTTGGGA", "GATTACAG"]
    assert clean.splits["test"].sequences == ["CATGCATG"]
    assert clean.splits["test"].ids == ["te5"]
    rep = leakage_report(clean)
    assert not rep.has_leak
    assert rep.within["dev"]["duplicated_sequences"] == 0 and rep.within["test"]["duplicated_sequences"] == 0
    assert any(w.startswith("deduplicated") for w in clean.warnings)
    assert task.splits["test"].sequences[0] == "AAAACCCC"  # input not modified


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
# Example task


def test_example_task_regenerates_byte_identically(tmp_path):
    generate_promoter_task(tmp_path / "regen")
    shipped = example_task_path()
    total = 0
    for name in ("train.csv", "dev.csv", "test.csv"):
        assert (tmp_path / "regen" / name).read_bytes() == (shipped / name).read_bytes(), name
        total += (shipped / name).stat().st_size
    assert total < 200_000


def test_example_task_module_entry_point(tmp_path):
    out = tmp_path / "cli"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hubtune.example_task",
            "--out",
            str(out),
            "--n-train",
            "40",
            "--n-dev",
            "10",
            "--n-test",
            "10",
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    task = load_task(out)
    assert [len(task.splits[s]) for s in ("train", "dev", "test")] == [40, 10, 10]


def test_example_task_loads_balanced_and_clean():
    task = load_task(example_task_path())
    assert task.name == "promoter"
    assert task.label_names == ["background", "promoter"]
    assert [len(task.splits[s]) for s in ("train", "dev", "test")] == [800, 100, 100]
    counts = Counter(task.splits["train"].labels)
    assert 0.4 < counts[1] / 800 < 0.6
    assert not leakage_report(task).has_leak
    assert task.warnings == []


def test_example_task_is_learnable_by_a_motif_feature():
    """The TATA box 25-35 bp upstream of the TSS is enriched in promoters (signal beyond chance)."""
    import re

    task = load_task(example_task_path())
    sp = task.splits["train"]
    tata = re.compile("TATA[AT]A")
    hits = Counter(
        (lab, bool(tata.search(s[70 - 36 : 70 - 18]))) for s, lab in zip(sp.sequences, sp.labels, strict=True)
    )
    rate_prom = hits[(1, True)] / (hits[(1, True)] + hits[(1, False)])
    rate_bg = hits[(0, True)] / (hits[(0, True)] + hits[(0, False)])
    assert rate_prom > 0.4 and rate_bg < 0.15


# ---------------------------------------------------------------------------------------------------------------------
# Real GUE data (present in CI at ../shared/data/GUE)


def _gue(task: str) -> Path:
    path = GUE / task
    if not path.is_dir():
        pytest.skip(f"GUE benchmark data not found at {GUE.resolve()} (only available next to the repository in CI)")
    return path


def test_gue_prom_core_all_leakage_42_and_fast():
    path = _gue("prom/prom_core_all")
    t0 = time.perf_counter()
    task = load_task(path)
    rep = leakage_report(task)
    elapsed = time.perf_counter() - t0
    assert sum(len(s) for s in task.splits.values()) == 47_356 + 5_920 + 5_920
    assert rep.pairs["train/test"]["exact"] == 42
    assert elapsed < 3.0, f"load + leakage took {elapsed:.2f} s"
    clean = deduplicate(task, rep)
    assert leakage_report(clean).pairs["train/test"]["exact"] == 0


def test_gue_prom_core_tata_leakage_16():
    task = load_task(_gue("prom/prom_core_tata"))
    assert leakage_report(task).pairs["train/test"]["exact"] == 16
    assert task.label_names == ["0", "1"]


def test_gue_splice_dev_test_shared_30(tmp_path):
    src = _gue("splice/reconstructed")
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
