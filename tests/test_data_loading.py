"""load_task: formats (folders, tables, FASTA, datasets), validation messages, splits, label maps and row caps."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest
from data_helpers import csv_text, make_folder, rows, write

from hubtune.data import DataError, load_task, read_sequences
from hubtune.errors import ConfigError


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
# Labels, IUPAC warnings and row caps


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
