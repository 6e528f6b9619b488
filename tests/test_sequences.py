"""The sequence validator (cleaning rules, hints, reverse complement) and unlabelled input for prediction."""

from __future__ import annotations

import gzip

import pytest
from data_helpers import write

from hubtune.data import (
    DataError,
    clean_sequence,
    clean_sequences,
    parse_sequence_text,
    read_sequences,
    reverse_complement,
)

# ---------------------------------------------------------------------------------------------------------------------
# Cleaning


def test_clean_sequence_rules():
    assert clean_sequence("acgtn", where="w") == ("ACGTN", 0)
    assert clean_sequence(" AC GT\t", where="w") == ("ACGT", 0)
    assert clean_sequence("ACRYKMSWBDHVT", where="w") == ("AC" + "N" * 10 + "T", 10)
    with pytest.raises(DataError, match=r"^row 7: character 'Z' at position 3"):
        clean_sequence("acZ", where="row 7")
    with pytest.raises(DataError, match="empty"):
        clean_sequence("   ", where="w")


def test_rna_and_gap_characters_get_hints():
    with pytest.raises(DataError, match="RNA: replace U with T"):
        clean_sequence("ACGU", where="w")
    with pytest.raises(DataError, match="Gaps"):
        clean_sequence("AC-GT", where="w")


def test_clean_sequences_batch_of_strings_and_pairs():
    assert clean_sequences(["acg t", ("enh1", "GGRC")]) == [("seq1", "ACGT"), ("enh1", "GGNC")]
    assert clean_sequences([]) == []
    with pytest.raises(DataError, match=r"^sequence 2 \(x\): character 'Z' at position 2"):
        clean_sequences(["ACGT", ("x", "AZ")])
    with pytest.raises(DataError, match=r"^sequence 'x': the sequence is empty"):
        clean_sequences([("x", "  ")], where="sequence {id!r}")


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
