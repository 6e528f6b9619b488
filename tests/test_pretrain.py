"""`hubtune pretrain`: masked-LM pre-training on unlabelled DNA, the folder it writes (trained, pushed, loaded like any
base), its output-folder rules, the synthetic genome, and the pre-trained stand-in (`tiny-nt-pretrained`) that makes
"pre-trained vs random-init" mean something offline. The stand-in ships with hubtune (float16 weights); rebuilding it
with its recipe is a slow test."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from hubtune.cli import main
from hubtune.data.genome import generate_genome, write_genome_fasta
from hubtune.errors import ConfigError, DataError
from hubtune.pretraining import PretrainConfig, is_pretrained_folder, pretrain, read_pretraining_record
from hubtune.pretraining.corpus import read_corpus
from hubtune.pretraining.folder import claim_pretrain_output

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def genome_fasta(tmp_path_factory) -> Path:
    return write_genome_fasta(tmp_path_factory.mktemp("genome") / "genome.fa.gz", 150_000, seed=7)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, genome_fasta) -> Path:
    """tiny-nt after 150 masked-LM steps on a synthetic genome, through the command line."""
    out = tmp_path_factory.mktemp("pretrain") / "nt-adapted"
    code = main(["pretrain", "--model", "tiny-nt", "--data", str(genome_fasta), "--output", str(out),
                 "--max-steps", "150", "--lr", "0.005", "--batch-size", "32", "--chunk-bp", "120", "--seed", "1"])
    assert code == 0
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------------------------------


def test_fasta_windows_are_uppercased_and_never_cross_n_runs(tmp_path):
    fasta = tmp_path / "contigs.fa.gz"
    long = "acgt" * 100 + "N" * 30 + "GGCCTTAA" * 50 + "nnnn" + "TTTT"  # 400 bp, a gap, 400 bp, a gap, 4 bp
    with gzip.open(fasta, "wt") as handle:
        handle.write(f">chr1 soft-masked\n{long[:350]}\n{long[350:]}\n>short\nacgtacgtacgtacgtacgtacgtacgtacgtacgtRYA\n")
    corpus = read_corpus(str(fasta), chunk_bp=100, stride_bp=100, min_bp=30, eval_fraction=0.1, seed=0)
    windows = corpus.train + corpus.eval
    assert all(set(w) <= set("ACGT") for w in windows), "lowercase upper-cased, no N in any window"
    assert corpus.bp_skipped_n == 30 + 4 + 2  # the gaps, and the IUPAC codes R and Y that became N
    assert "TTTT" not in windows  # a stretch under --min-chunk-bp is dropped
    # chr1 (838 bp) gives its last 84 bp to the held-out set, cut before windowing: 400 bp -> 4 windows, the next
    # 324 bp -> 4 (the last one ending at the gap), the held-out 76 bp before the next gap -> 1; the short record -> 1.
    assert len(windows) == 10 and max(map(len, windows)) == 100
    assert corpus.eval == [long[754:830].upper()]
    with pytest.raises(DataError, match=r"contigs2\.fa, record 'x' \(line 1\): character '!' at position 5"):
        bad = tmp_path / "contigs2.fa"
        bad.write_text(">x\nACGT!ACGT\n")
        read_corpus(str(bad), chunk_bp=100, stride_bp=100, min_bp=2, eval_fraction=0.5, seed=0)


def test_synthetic_genome_is_deterministic_and_has_gaps_repeats_and_promoters():
    first, again = generate_genome(100_000, seed=5), generate_genome(100_000, seed=5)
    assert first == again and first != generate_genome(100_000, seed=6)
    dna = "".join(seq for _, seq in first)
    assert len(dna) == 100_000 and set(dna) <= set("ACGTacgtN")
    assert 0.2 < sum(c.islower() for c in dna) / len(dna) < 0.6  # soft-masked repeats
    assert "N" * 50 in dna
    upper = dna.upper()
    assert any(box in upper for box in ("TATAAA", "TATATA"))
    assert upper.count("CG") / len(upper) < 0.06  # CpG depletion outside islands


# ---------------------------------------------------------------------------------------------------------------------
# Output folder rules
# ---------------------------------------------------------------------------------------------------------------------


def test_output_folder_refusals(tmp_path, pretrained):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.txt").write_text("mine")
    with pytest.raises(ConfigError, match="never writes into or replaces it"):
        claim_pretrain_output(notes, overwrite=True)
    assert (notes / "thesis.txt").read_text() == "mine"
    with pytest.raises(ConfigError, match="already holds a pre-trained model"):
        claim_pretrain_output(pretrained)
    link = tmp_path / "link"
    link.symlink_to(notes)
    with pytest.raises(ConfigError, match="symbolic link"):
        claim_pretrain_output(link)
    foreign_partial = tmp_path / "fresh.partial"
    foreign_partial.mkdir()
    with pytest.raises(ConfigError, match="not created by hubtune"):
        claim_pretrain_output(tmp_path / "fresh", overwrite=True, resume=True)
    # A file the user added to a pre-trained folder makes --overwrite refuse it.
    (pretrained / "my-notes.md").write_text("keep me")
    try:
        with pytest.raises(ConfigError, match="my-notes.md"):
            claim_pretrain_output(pretrained, overwrite=True)
    finally:
        (pretrained / "my-notes.md").unlink()
    assert claim_pretrain_output(pretrained, overwrite=True) == pretrained.with_name("nt-adapted.partial")
    # Refused before any work: nothing was created.
    with pytest.raises(ConfigError, match="never writes into"):
        pretrain(PretrainConfig(model="tiny-nt", data="missing.fa", output=str(notes)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.partial", "link", "notes"]


# ---------------------------------------------------------------------------------------------------------------------
# Pre-training, then train / load / push like any base
# ---------------------------------------------------------------------------------------------------------------------


def test_pretraining_lowers_the_held_out_loss_and_writes_the_published_layout(pretrained):
    record = read_pretraining_record(pretrained)
    before, after = record.loss_before, record.loss_after
    assert after < before - 0.03, f"held-out masked-LM loss {before:.3f} -> {after:.3f}"
    assert record.record["eval"]["after"]["accuracy"] >= record.record["eval"]["before"]["accuracy"]
    assert record.record["steps"] == 150 and record.record["corpus"]["source"] == "genome.fa.gz"
    files = {p.name for p in pretrained.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.txt", "pretraining.json", "pretraining.png"} <= files
    assert not any(name.endswith(".partial") for name in (p.name for p in pretrained.parent.iterdir()))

    from transformers import AutoModelForMaskedLM

    from hubtune.models import load_base_model

    mlm = AutoModelForMaskedLM.from_pretrained(str(pretrained))  # plain transformers, MLM head included
    ours = load_base_model(str(pretrained), task="mlm")
    head = "lm_head.decoder.weight"
    assert (mlm.state_dict()[head] == ours.state_dict()[head]).all()
    from hubtune.models import tiny_model_path
    from hubtune.models.checkpoint import read_weights

    random_head = read_weights(tiny_model_path("tiny-nt") / "model.safetensors")[head]
    assert not (random_head == mlm.state_dict()[head]).all(), "the trained masked-LM head is written"


def test_pretraining_is_seeded(tmp_path, genome_fasta):
    def run(name: str) -> bytes:
        out = pretrain(PretrainConfig(model="tiny-nt", data=str(genome_fasta), output=str(tmp_path / name),
                                      max_steps=4, batch_size=8, chunk_bp=120, eval_max_windows=16, seed=3))
        return (out / "model.safetensors").read_bytes()

    assert run("a") == run("b")


def test_a_pretrained_folder_fine_tunes_and_pushes_as_a_base(tmp_path, pretrained, hub_server):
    from huggingface_hub import HfApi

    from hubtune import TrainConfig, finetune, push_to_hub
    from hubtune.data import example_task_path

    run = finetune(TrainConfig(model=str(pretrained), data=str(example_task_path()), max_steps=3, max_rows=40,
                               baselines=False, output=str(tmp_path / "run")))
    assert run.info.family == "nt" and run.test_score() is not None
    url = push_to_hub(pretrained, "alice/nt-adapted", token=hub_server.token, endpoint=hub_server.url)
    assert "alice/nt-adapted" in url
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    files = set(api.list_repo_files("alice/nt-adapted"))
    assert {"config.json", "model.safetensors", "pretraining.json", "README.md"} <= files
    assert ".hubtune-folder.json" not in files
    card = Path(api.hf_hub_download("alice/nt-adapted", "README.md")).read_text()
    record = read_pretraining_record(pretrained)
    assert "## Pre-training" in card and "genome.fa.gz" in card and "hubtune-base" in card
    assert f"{record.loss_before:.3f} before, **{record.loss_after:.3f}** after" in card
    assert str(tmp_path) not in card and str(pretrained.parent) not in card


# ---------------------------------------------------------------------------------------------------------------------
# The pre-trained stand-in
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def standin() -> Path:
    from hubtune.models import tiny_model_path

    return tiny_model_path("tiny-nt-pretrained")


def test_the_pretrained_standin_was_made_by_pretrain_and_resolves_by_name(standin):
    from hubtune.models import resolve_model
    from hubtune.pretraining.standin import STANDIN_BASE, STANDIN_RECIPE

    assert is_pretrained_folder(standin)
    record = read_pretraining_record(standin).record
    assert record["base_model"] == STANDIN_BASE == "tiny-nt-tied" and record["steps"] == STANDIN_RECIPE["max_steps"]
    assert {k: record["settings"][k if k != "lr" else "learning_rate"] for k in STANDIN_RECIPE} == STANDIN_RECIPE
    before, after = record["eval"]["before"], record["eval"]["after"]
    assert after["loss"] < before["loss"] - 1.0, "held-out masked-LM loss clearly lower after pre-training"
    assert after["accuracy"] > 0.03 > before["accuracy"]
    resolved = resolve_model("tiny-nt-pretrained")
    assert resolved.is_tiny and resolved.family.name == "nt"
    assert resolve_model("tiny-nt").source != resolved.source  # the random stand-in keeps its name and weights


def test_the_shipped_standin_weights_are_the_manifests_and_load_as_float32(standin):
    import hashlib

    import torch
    from safetensors.torch import load_file

    from hubtune.data.genome import GENOME_SEED
    from hubtune.models.tiny import SHIPPED_MANIFEST, SHIPPED_STANDIN_DIR, shipped_standin
    from hubtune.pretraining.standin import STANDIN_GENOME_BP, STANDIN_RECIPE

    shipped = shipped_standin("tiny-nt-pretrained")
    assert shipped is not None and (shipped / "model.safetensors").stat().st_size < 1_000_000
    entry = json.loads((SHIPPED_STANDIN_DIR / SHIPPED_MANIFEST).read_text())["tiny-nt-pretrained"]
    assert hashlib.sha256((shipped / "model.safetensors").read_bytes()).hexdigest() == entry["sha256"]
    assert (entry["recipe"], entry["genome_bp"], entry["genome_seed"]) == (STANDIN_RECIPE, STANDIN_GENOME_BP,
                                                                           GENOME_SEED)
    half, full = load_file(str(shipped / "model.safetensors")), load_file(str(standin / "model.safetensors"))
    assert half.keys() == full.keys()
    assert all(full[k].dtype == torch.float32 and torch.equal(full[k], half[k].float()) for k in half)


def test_the_standin_starts_from_tiny_nt_with_a_tied_decoder_so_tiny_nt_is_its_random_twin(tmp_path, standin):
    import torch
    from safetensors.torch import load_file

    from hubtune.models import load_base_model, tiny_model_path
    from hubtune.models.tiny import build_tiny_nt_tied

    def read_local_config(folder: Path) -> dict:
        return json.loads((folder / "config.json").read_text())

    tied = load_file(str(build_tiny_nt_tied(tmp_path / "tiny-nt-tied") / "model.safetensors"))
    random = load_file(str(tiny_model_path("tiny-nt") / "model.safetensors"))
    encoder = [k for k in random if k.startswith("esm.")]
    assert encoder and all(torch.equal(tied[k], random[k]) for k in encoder), "same encoder as tiny-nt"
    assert "lm_head.decoder.weight" in random and "lm_head.decoder.weight" not in tied  # tied: not stored
    assert read_local_config(tmp_path / "tiny-nt-tied")["tie_word_embeddings"] is True
    mlm = load_base_model("tiny-nt-pretrained", task="mlm")
    assert read_local_config(standin)["tie_word_embeddings"] is True
    assert torch.equal(mlm.lm_head.decoder.weight, mlm.esm.embeddings.word_embeddings.weight)
    trained = load_file(str(standin / "model.safetensors"))["esm.embeddings.word_embeddings.weight"]
    assert not torch.equal(trained, random["esm.embeddings.word_embeddings.weight"]), "pre-training moved them"


@pytest.mark.slow
def test_rebuilding_the_standin_with_its_recipe_reproduces_the_shipped_weights_bit_for_bit(tmp_path):
    from safetensors.torch import load_file

    from hubtune.models.tiny import shipped_standin
    from hubtune.pretraining.standin import build_tiny_nt_pretrained, half_precision_weights

    shipped = shipped_standin("tiny-nt-pretrained")
    recorded = read_pretraining_record(shipped).record["versions"]
    import torch
    import transformers

    if (recorded["torch"], recorded["transformers"]) != (torch.__version__, transformers.__version__):
        pytest.skip(f"the shipped weights were made with torch {recorded['torch']} and transformers "
                    f"{recorded['transformers']}; bit-for-bit equality needs the same versions")
    rebuilt = half_precision_weights(build_tiny_nt_pretrained(tmp_path / "rebuilt"))
    expected = load_file(str(shipped / "model.safetensors"))
    assert rebuilt.keys() == expected.keys()
    assert all(torch.equal(rebuilt[k], expected[k]) for k in expected)


def test_pretrained_probe_beats_the_random_init_probe_on_the_example_task(standin):
    from hubtune.data import example_task_path
    from hubtune.demo import random_init_probe

    random_probe = random_init_probe("tiny-nt-pretrained", example_task_path(), max_length=21)
    assert random_probe is not None and random_probe["model"] == "tiny-nt"
    from hubtune.data import load_task
    from hubtune.evaluate import extract_embeddings
    from hubtune.heads import fit_logistic_head_tuned
    from hubtune.metrics import compute_metrics
    from hubtune.models import load_base_model, load_tokenizer

    task = load_task(str(example_task_path()), seed=42)
    base, tokenizer = load_base_model("tiny-nt-pretrained", task="base"), load_tokenizer("tiny-nt-pretrained")
    features = {s: extract_embeddings(base, tokenizer, task.splits[s].sequences, max_length=21)
                for s in ("train", "dev", "test")}
    head, _ = fit_logistic_head_tuned(features["train"], task.splits["train"].labels, features["dev"],
                                      task.splits["dev"].labels, 2, seed=42)
    pretrained_mcc = compute_metrics(task.splits["test"].labels, head.probs(features["test"]))["mcc"]
    assert pretrained_mcc > random_probe["mcc"], (pretrained_mcc, random_probe["mcc"])


def _held_out_genome_task(folder: Path) -> Path:
    """100 bp windows (the stand-in's window length) of its genome beyond what it was trained on, labelled
    repeat-rich or not."""
    from hubtune.pretraining.standin import STANDIN_GENOME_BP

    chromosomes = generate_genome(STANDIN_GENOME_BP + 40_000)[STANDIN_GENOME_BP // 10_000:]
    rows = []
    for _, seq in chromosomes:
        for start in range(0, len(seq) - 100, 100):
            window = seq[start:start + 100]
            if "N" not in window:
                rows.append((window.upper(), "repeat" if sum(c.islower() for c in window) > 50 else "other"))
    folder.mkdir()
    for split, part in (("train", rows[:120]), ("dev", rows[120:180]), ("test", rows[180:280])):
        with open(folder / f"{split}.csv", "w", newline="") as handle:
            csv.writer(handle).writerows([("sequence", "label"), *part])
    return folder


def test_forgetting_is_measured_on_the_pretrained_standin(tmp_path, standin):
    from hubtune import TrainConfig, finetune
    from hubtune.diagnostics import check_forgetting

    task = _held_out_genome_task(tmp_path / "genome-task")
    run = finetune(TrainConfig(model="tiny-nt-pretrained", data=str(task), method="full", lr=1e-3, max_steps=10,
                               baselines=False, output=str(tmp_path / "run")))
    verdict = check_forgetting(run, max_sequences=100)
    assert verdict.status != "not measurable", verdict.summary
    details = verdict.details
    assert details["pretraining_gain"] > 0.05 and isinstance(details["forgotten_fraction"], float)
    assert json.dumps(details)  # a plain record
