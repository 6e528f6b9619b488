"""The Space: its serving library (model cache, limits, in-silico mutagenesis, PCA), its rendering (escaping, the
metrics table) and the running app driven through gradio_client, against two tiny LoRA adapters of one task pushed to
the session's local hub."""

from __future__ import annotations

import contextlib
import csv
import gzip
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from shared_runs import import_script, one_torch_thread

from hubtune.errors import ConfigError, DataError, HubError
from hubtune.evaluate import Windowing
from hubtune.run import RunInfo
from hubtune.serving import (
    BASES,
    AdapterMeta,
    AdapterPrediction,
    CacheStats,
    Comparison,
    Limits,
    ModelCache,
    SpaceBackend,
    adapters_from_env,
    csv_safe,
    ism_scan,
    parse_adapter_list,
    pca_2d,
    read_input,
    window_starts,
)

ROOT = Path(__file__).resolve().parent.parent
SPACE_APP = ROOT / "space" / "app.py"
SPACE_RENDER = ROOT / "space" / "render.py"
SPACE_README = ROOT / "space" / "README.md"
XSS_ID = "<img/src=x/onerror=window.__hubtune_xss=1>"


# ---------------------------------------------------------------------------------------------------------------------
# Shared setup (also used by test_space_browser.py): train + push once per process, launch the app per module
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class SpaceAdapters:
    """Two LoRA adapters of the same task (seeds 1 and 2) on the local hub; the first ships example sequences."""

    repos: list[str]
    runs: list[Path]
    test_rows: list[tuple[str, str]]  # (sequence, label) from the example task's test split
    examples: list[dict[str, str]] = field(default_factory=list)


_SHARED: dict[str, SpaceAdapters] = {}


def shared_adapters(hub: Any, tmp_path_factory: pytest.TempPathFactory) -> SpaceAdapters:
    """Train the two tiny adapters and push them to `hub`, once per test process."""
    if hub.url in _SHARED:
        return _SHARED[hub.url]
    from hubtune.data import example_task_path
    from hubtune.hub import push_to_hub
    from hubtune.train import TrainConfig, finetune

    root = tmp_path_factory.mktemp("space-runs")
    with open(example_task_path() / "test.csv", newline="") as handle:
        rows = [(row["sequence"], row["label"]) for row in csv.DictReader(handle)]
    runs = []
    with one_torch_thread(), contextlib.redirect_stdout(sys.stderr):
        for seed in (1, 2):
            run = finetune(TrainConfig(model="tiny-nt", data=str(example_task_path()), method="lora", max_steps=20,
                                       eval_steps=10, seed=seed, output=str(root / f"seed{seed}")))
            runs.append(Path(run.path))
    # Example sequences travel in hubtune.json ("examples": [{id, sequence, label}]). Training writes a few test
    # sequences per class; here the first adapter gets its own three and the second none (an adapter made elsewhere).
    examples = [{"id": f"test{i + 1}", "sequence": seq, "label": label} for i, (seq, label) in enumerate(rows[:3])]
    for path, shipped in zip(runs, (examples, []), strict=True):
        info = RunInfo.read(path)
        assert info.examples, "training records example sequences"
        info.examples = shipped
        info.write(path)
    repos = ["alice/space-promoter-seed1", "alice/space-promoter-seed2"]
    for path, repo in zip(runs, repos, strict=True):
        push_to_hub(path, repo, token=hub.token)
    _SHARED[hub.url] = SpaceAdapters(repos, runs, rows, examples)
    return _SHARED[hub.url]


def load_app_module() -> ModuleType:
    """Import space/app.py once (it is a script folder, not a package)."""
    return import_script("hubtune_space_app", SPACE_APP)


def load_render_module() -> ModuleType:
    """Import space/render.py under the name space/app.py imports it by."""
    return import_script("render", SPACE_RENDER)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningSpace:
    url: str
    demo: Any
    backend: SpaceBackend
    app: ModuleType
    adapters: SpaceAdapters

    def close(self) -> None:
        self.demo.close(verbose=False)


def start_space(adapters: SpaceAdapters) -> RunningSpace:
    """Build the app with both adapters preselected and preloaded, and serve it on a free 127.0.0.1 port."""
    app = load_app_module()
    backend = SpaceBackend(ModelCache(max_adapters=4))
    with one_torch_thread():
        demo = app.build_app(backend, adapters=adapters.repos)
    port = free_port()
    app.launch(demo, host="127.0.0.1", port=port, block=False)
    return RunningSpace(f"http://127.0.0.1:{port}", demo, backend, app, adapters)


@pytest.fixture(scope="module")
def adapters(hub_server, tmp_path_factory) -> SpaceAdapters:
    return shared_adapters(hub_server, tmp_path_factory)


@pytest.fixture(scope="module")
def space(adapters) -> Iterator[RunningSpace]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the server's worker threads share this setting
    running = start_space(adapters)
    try:
        yield running
    finally:
        running.close()
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def client(space, tmp_path_factory):
    from gradio_client import Client

    return Client(space.url, verbose=False, analytics_enabled=False,
                  download_files=str(tmp_path_factory.mktemp("space-downloads")))


def _fasta(rows: list[tuple[str, str]], ids: list[str] | None = None) -> str:
    ids = ids or [f"s{i + 1}" for i in range(len(rows))]
    return "".join(f">{seq_id}\n{seq}\n" for seq_id, (seq, _) in zip(ids, rows, strict=True))


# ---------------------------------------------------------------------------------------------------------------------
# Packaging
# ---------------------------------------------------------------------------------------------------------------------


def test_space_readme_is_a_valid_spaces_card_for_the_installed_gradio():
    import gradio
    from huggingface_hub import SpaceCard

    card = SpaceCard.load(SPACE_README)
    data = card.data.to_dict()
    assert data["sdk"] == "gradio"
    assert data["sdk_version"] == gradio.__version__
    assert (SPACE_README.parent / data["app_file"]).is_file()
    assert data["suggested_hardware"].startswith(("t4", "a10g", "l4", "l40s", "a100", "zero"))
    assert "hubtune" in data["tags"] and data["models"]
    assert "hubtune hub serve" in card.text  # the offline recipe is documented
    requirements = (SPACE_README.parent / "requirements.txt").read_text()
    assert "gradio" in requirements and "hubtune" in requirements


def test_dockerfile_follows_docker_space_conventions():
    text = (ROOT / "Dockerfile").read_text()
    assert "useradd" in text and "1000" in text
    assert "EXPOSE 7860" in text and "GRADIO_SERVER_PORT=7860" in text
    assert "torch==2.13.0" in text and "download.pytorch.org/whl/cpu" in text
    assert text.index("torch==2.13.0") < text.index(".[space]")  # the CPU wheel first, so pip keeps it
    assert '"space/app.py"' in text


# ---------------------------------------------------------------------------------------------------------------------
# Input and limits (no models)
# ---------------------------------------------------------------------------------------------------------------------


def test_pasted_fasta_keeps_ids_and_bad_characters_are_reported_with_position():
    records = read_input(">promoter_1 some description\nacgtn\nACGT\n>promoter_1\nTTTT\n", None, Limits())
    assert records == [("promoter_1", "ACGTNACGT"), ("promoter_1_2", "TTTT")]  # duplicate ids stay distinguishable
    assert read_input("ACGT\n\nGGCC\n", None, Limits()) == [("seq1", "ACGT"), ("seq2", "GGCC")]
    with pytest.raises(DataError, match=r"record 'bad'.*'X' at position 3"):
        read_input(">ok\nACGT\n>bad\nACXGT\n", None, Limits())
    with pytest.raises(DataError, match="No sequences"):
        read_input("   \n", None, Limits())


def test_uploads_fasta_gz_and_csv_are_read_and_other_types_refused(tmp_path):
    fasta_gz = tmp_path / "upload.fa.gz"
    fasta_gz.write_bytes(gzip.compress(b">chr1_frag\nACGTACGT\n>chr2_frag\nGGGG\n"))
    table = tmp_path / "batch.csv"
    table.write_text("id,sequence\nr1,ACGT\nr2,TTGCA\n")
    assert read_input(None, fasta_gz, Limits()) == [("chr1_frag", "ACGTACGT"), ("chr2_frag", "GGGG")]
    assert read_input("CCCC", table, Limits()) == [("seq1", "CCCC"), ("r1", "ACGT"), ("r2", "TTGCA")]
    sheet = tmp_path / "batch.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError, match="unsupported type"):
        read_input(None, sheet, Limits())
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence\nACGT\nAC-GT\n")
    with pytest.raises(DataError, match=r"bad\.csv.*position 3") as info:
        read_input(None, bad, Limits())
    assert str(tmp_path) not in str(info.value)  # server-side folders are not shown to users


def test_limits_refuse_requests_before_any_download_or_model_work(tmp_path):
    cache = ModelCache()
    backend = SpaceBackend(cache, Limits(max_sequences=2, max_total_bp=50, max_sequence_bp=30, max_ism_bp=20,
                                         max_adapters_per_request=2, max_input_bytes=1000))
    missing = "alice/no-such-adapter"  # would raise HubError if anything were fetched
    with pytest.raises(DataError, match="3 sequences.*at most 2"):
        backend.classify("ACGT\nACGT\nACGT", [missing])
    with pytest.raises(DataError, match="'seq1' is 31 bp.*30 bp"):
        backend.classify("A" * 31, [missing])
    with pytest.raises(DataError, match="60 bp in total.*50 bp"):
        backend.classify("A" * 30 + "\n" + "C" * 30, [missing])
    with pytest.raises(DataError, match="limited to 20 bp"):
        backend.ism("A" * 21, missing)
    with pytest.raises(DataError, match="limit is 1,000 bytes"):
        backend.classify("A" * 1001, [missing])
    bomb = tmp_path / "big.fa.gz"
    bomb.write_bytes(gzip.compress(b">x\n" + b"A" * 5000))
    with pytest.raises(DataError, match="decompresses to more than"):
        backend.parse(None, bomb)
    with pytest.raises(ConfigError, match="at most 2"):
        backend.classify("ACGT", ["alice/a", "alice/b", "alice/c"])
    with pytest.raises(ConfigError, match="No adapter chosen"):
        backend.classify("ACGT", [])
    with pytest.raises(HubError, match="looks like a path"):
        backend.classify("ACGT", [str(tmp_path)])  # local folders are not adapter ids in a public Space
    assert cache.stats == CacheStats()
    assert cache.loaded() == {}


def test_limits_and_preloaded_adapters_come_from_the_environment():
    env = {"HUBTUNE_SPACE_MAX_SEQUENCES": "7", "HUBTUNE_SPACE_MAX_ISM_BP": "300",
           "HUBTUNE_SPACE_ADAPTERS": "alice/a, bob/b\nalice/a"}
    limits = Limits.from_env(env)
    assert (limits.max_sequences, limits.max_ism_bp, limits.max_total_bp) == (7, 300, Limits().max_total_bp)
    assert adapters_from_env(env) == ["alice/a", "bob/b"]
    assert parse_adapter_list(["x/y", " x/y ", "z/w"]) == ["x/y", "z/w"]
    with pytest.raises(ConfigError, match="HUBTUNE_SPACE_MAX_SEQUENCES"):
        Limits.from_env({"HUBTUNE_SPACE_MAX_SEQUENCES": "-3"})


# ---------------------------------------------------------------------------------------------------------------------
# Algorithms (no models)
# ---------------------------------------------------------------------------------------------------------------------


def test_window_starts_match_the_classifier_windowing():
    for length, window, stride in [(5, 10, 5), (10, 10, 5), (23, 10, 4), (100, 30, 15), (31, 30, 15)]:
        seq = "".join(BASES[i % 4] for i in range(length))
        cut = Windowing(window, stride).windows(seq)
        assert [seq[s : s + window] for s in window_starts(length, window, stride)] == cut


def _toy_window_probs(pieces: list[str]) -> np.ndarray:
    """A position-dependent toy classifier: P(class 1) grows with G/C content weighted by position in the window."""
    weights = np.linspace(0.5, 1.5, 10)
    scores = np.array([sum(w for w, ch in zip(weights, piece, strict=False) if ch in "GC") for piece in pieces])
    p1 = 1 / (1 + np.exp(-(scores - 3)))
    return np.stack([1 - p1, p1], axis=1)


def test_ism_scan_equals_rescoring_every_mutant_of_the_whole_sequence():
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list(BASES), size=23)) + "N"  # N: all four bases are substitutions there
    windowing = Windowing(10, 4)

    def whole(sequence: str) -> np.ndarray:  # what the windowed classifier answers for one sequence
        return _toy_window_probs(windowing.windows(sequence)).mean(axis=0)

    delta, reference, target = ism_scan(seq, 10, 4, _toy_window_probs, chunk=7)
    assert delta.shape == (len(seq), 4)
    np.testing.assert_allclose(reference, whole(seq))
    assert target == int(whole(seq).argmax())
    for pos in range(len(seq)):
        for b, base in enumerate(BASES):
            mutant = seq[:pos] + base + seq[pos + 1 :]
            expected = whole(mutant)[target] - whole(seq)[target]
            assert delta[pos, b] == pytest.approx(expected, abs=1e-12)
    assert np.all(delta[[i for i, ch in enumerate(seq) if ch != "N"], [BASES.index(ch) for ch in seq if ch != "N"]]
                  == 0)
    other, _, t1 = ism_scan(seq, 10, 4, _toy_window_probs, target=1 - target)
    assert t1 == 1 - target
    np.testing.assert_allclose(other, -delta, atol=1e-12)  # two classes: P(other) moves the opposite way


def test_pca_projection_is_two_dimensional_and_explains_the_variance():
    rng = np.random.default_rng(1)
    latent = rng.normal(size=(30, 2)) * [5.0, 1.0]
    features = latent @ rng.normal(size=(2, 16)) + 0.01 * rng.normal(size=(30, 16))
    coords, explained = pca_2d(features)
    assert coords.shape == (30, 2)
    assert explained.sum() > 0.99 and explained[0] > explained[1]
    np.testing.assert_allclose(pca_2d(features)[0], coords)  # deterministic signs
    single, none = pca_2d(features[:1])
    assert single.shape == (1, 2) and not none.any()


# ---------------------------------------------------------------------------------------------------------------------
# Escaping
# ---------------------------------------------------------------------------------------------------------------------


def _info(**changes: Any) -> RunInfo:
    values: dict[str, Any] = {"label_names": ["a", "b"], "method": "lora", "base_model": "m", "max_length": 10,
                              "window_bp": 50, "stride_bp": 25}
    return RunInfo(**{**values, **changes})


def test_user_text_is_escaped_in_html_and_defused_in_csv(tmp_path):
    render = load_render_module()
    assert "<script>" not in render.status_html("record '<script>alert(1)</script>' is bad", ok=False)
    metrics = {"finetuned": {"test": {"mcc": 0.5}}, "kmer": {"test": {"mcc": 0.25, "f1_macro": 0.6}}}
    meta = AdapterMeta(repo_id="<b>x</b>", folder=tmp_path, info=_info(), metrics=metrics)
    html_text = render.metrics_html([meta])
    assert "<b>x</b>" not in html_text and "&lt;b&gt;x&lt;/b&gt;" in html_text
    # The card's comparison table, as `hubtune.tables.comparison_table` builds it: same labels, same numbers.
    assert "<td>fine-tuned</td><td>0.500</td>" in html_text and "<td>k-mer baseline</td><td>0.250</td>" in html_text
    assert "test MCC" in html_text and "dev MCC" not in html_text and "pre-trained probe" not in html_text
    bare = render.metrics_html([AdapterMeta(repo_id="alice/none", folder=tmp_path, info=_info())])
    assert "No test metrics" in bare and "<table" not in bare

    @dataclass
    class Listed:
        repo_id: str = "alice/<i>evil</i>"
        base_model: str = "<script>base</script>"
        task: str = "<u>t</u>"
        labels: list[str] = field(default_factory=lambda: ["<a>", "b"])
        test_score: float = 0.25
        method: str = "lora"
        metric_label: str = "<s>MCC</s>"

    overview = render.adapters_overview_html([Listed()])
    assert "<script>" not in overview and "<i>" not in overview and "<u>" not in overview and "0.250" in overview
    assert "<s>" not in overview and "&lt;s&gt;MCC&lt;/s&gt; 0.250" in overview
    assert csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_safe("seq1") == "seq1" and csv_safe(0.5) == 0.5
    probs = np.array([[0.9, 0.1]])
    comparison = Comparison([("=cmd|'/c calc'!A1", "ACGT")], ["a", "b"],
                            [AdapterPrediction("alice/x", ["a", "b"], probs, None, [probs])], [meta])
    text = comparison.to_csv(tmp_path / "out.csv").read_text()
    assert "\n'=cmd" in text and "\n=cmd" not in text
    assert text.splitlines()[1].endswith(",0.9,0.1,n/a,,,n/a")  # full precision; no base probe: empty cells


# ---------------------------------------------------------------------------------------------------------------------
# Model cache and model-backed results (local hub)
# ---------------------------------------------------------------------------------------------------------------------


def test_adapters_of_one_base_share_one_model_and_answer_like_standalone_classifiers(adapters):
    from hubtune.predict import load_classifier

    a, b = adapters.repos
    rows = adapters.test_rows[:6]
    seqs = [s for s, _ in rows]
    backend = SpaceBackend(ModelCache(max_adapters=4))
    with one_torch_thread():
        result = backend.classify(_fasta(rows), [a, b])
        again = backend.classify(_fasta(rows), [b])
        again_a = backend.classify(_fasta(rows), [a])
        standalone = [load_classifier(repo) for repo in (a, b)]
        expected = [clf.predict_proba(seqs) for clf in standalone]
        expected_base = [clf.predict_base_proba(seqs) for clf in standalone]
    stats = backend.cache.stats
    assert stats.base_loads == 1 and stats.adapter_loads == 2  # one base instance, never reloaded per request
    assert stats.adapter_switches == 1  # b was still active for the second request; the third switched back to a
    assert list(backend.cache.loaded().values()) == [[a, b]]
    for pred, exp, exp_base in zip(result.predictions, expected, expected_base, strict=True):
        np.testing.assert_allclose(pred.probs, exp, atol=1e-5)
        np.testing.assert_allclose(pred.base_probs, exp_base, atol=1e-5)
    assert not np.allclose(result.predictions[0].probs, result.predictions[1].probs)  # really two adapters
    np.testing.assert_allclose(again.predictions[0].probs, expected[1], atol=1e-5)
    np.testing.assert_allclose(again_a.predictions[0].probs, expected[0], atol=1e-5)
    assert result.columns()[:3] == ["id", "bp", "windows"]
    assert "space-promoter-seed1: p(promoter)" in result.columns()
    assert "space-promoter-seed2: agree" in result.columns()
    row = result.rows()[0]
    assert row[0] == "s1" and row[1] == len(seqs[0]) and row[-1] in ("agree", "disagree")
    card = result.metas[0].metrics  # the pushed metrics.json: the Space renders its comparison table
    assert isinstance(card["finetuned"]["test"]["mcc"], float) and isinstance(card["probe"]["test"]["mcc"], float)


def test_least_recently_used_adapter_is_evicted_and_the_base_is_kept(adapters):
    a, b = adapters.repos
    cache = ModelCache(max_adapters=1)
    backend = SpaceBackend(cache)
    with one_torch_thread():
        backend.classify("ACGTACGTAAGG", [a])
        with cache.use(a) as classifier:
            model = classifier.model  # the shared base, wrapped by peft
        backend.classify("ACGTACGTAAGG", [b])
        assert list(cache.loaded().values()) == [[b]]
        assert len(model.peft_config) == 1  # the evicted adapter's weights were deleted from the model
        backend.classify("ACGTACGTAAGG", [a])
        with cache.use(a) as classifier:
            assert classifier.model is model
    assert cache.stats.adapter_evictions == 2 and cache.stats.adapter_loads == 3
    assert cache.stats.base_loads == 1  # evicting adapters never reloads the shared base


def test_ism_track_and_projection_with_a_real_adapter(adapters):
    from hubtune.predict import load_classifier

    a = adapters.repos[0]
    backend = SpaceBackend(ModelCache())
    meta = backend.cache.meta(a)
    # Longer than one model window, so the answer averages two windows and ISM must re-score both.
    seq = "".join(s for s, _ in adapters.test_rows[:8])[: meta.window_bp + meta.stride_bp // 2]
    starts = window_starts(len(seq), meta.window_bp, meta.stride_bp)
    assert len(starts) == 2
    with one_torch_thread():
        result = backend.ism(("long", seq), a)
        clf = load_classifier(a)
        reference = clf.predict_proba([seq])[0]
        positions = (0, starts[1] - 1, starts[1] + 1, meta.window_bp - 1, len(seq) - 1)  # one or both windows
        picks = [(p, next(base for base in BASES if base != seq[p])) for p in positions]
        mutants = clf.predict_proba([seq[:p] + base + seq[p + 1 :] for p, base in picks])
        track = backend.window_track(("long", seq), a)
        projection = backend.project(_fasta(adapters.test_rows[:8]), a)
    assert result.delta.shape == (len(seq), 4)
    np.testing.assert_allclose(result.reference, reference, atol=1e-5)
    for (pos, base), probs in zip(picks, mutants, strict=True):
        assert result.delta[pos, BASES.index(base)] == pytest.approx(probs[result.target] - reference[result.target],
                                                                     abs=1e-5)
        assert result.delta[pos, BASES.index(seq[pos])] == 0
    assert np.abs(result.delta).max() > 0
    assert result.to_dict()["target_class"] in ("background", "promoter")
    assert [w["start"] for w in track.to_dict()["windows"]] == starts
    np.testing.assert_allclose(track.probs.mean(axis=0), reference, atol=1e-5)
    assert projection.base.shape == projection.fine_tuned.shape == (8, 2)
    assert set(projection.fine_tuned_labels) <= {"background", "promoter"}
    assert 0 < projection.fine_tuned_explained.sum() <= 1 + 1e-9
    assert not np.allclose(projection.base, projection.fine_tuned)  # the adapter changes the embedding


def test_adapter_metadata_offers_examples_only_when_the_adapter_ships_them(adapters):
    cache = ModelCache()
    first, second = (cache.meta(repo) for repo in adapters.repos)
    assert [seq for _, seq in first.examples] == [e["sequence"] for e in adapters.examples]
    assert first.examples[0][0] == f"test1 label={adapters.examples[0]['label']}"
    assert second.examples == [] and second.examples_fasta() == ""
    assert cache.stats == CacheStats()  # metadata needs no model


# ---------------------------------------------------------------------------------------------------------------------
# The running app through gradio_client
# ---------------------------------------------------------------------------------------------------------------------


def test_classify_endpoint_returns_labels_probabilities_and_the_base_answer(client, adapters):
    rows = adapters.test_rows[:3]
    result = client.predict(_fasta(rows, ["p1", XSS_ID, "p3"]), adapters.repos[0], api_name="/classify")
    assert result["label_names"] == ["background", "promoter"]
    assert [s["id"] for s in result["sequences"]] == ["p1", XSS_ID, "p3"]  # JSON carries ids verbatim
    entry = result["sequences"][0]["adapters"][adapters.repos[0]]
    assert entry["label"] in result["label_names"]
    assert sum(entry["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert sum(entry["base_probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert entry["agree"] == (entry["label"] == entry["base_label"])


def test_compare_endpoint_gives_one_column_set_per_adapter(client, adapters):
    rows = adapters.test_rows[:4]
    result = client.predict(_fasta(rows), adapters.repos, api_name="/compare")
    assert result["adapters"] == adapters.repos
    for name in ("space-promoter-seed1", "space-promoter-seed2"):
        for col in (": label", ": p(background)", ": p(promoter)", ": base label", ": agree"):
            assert name + col in result["columns"]
    assert len(result["rows"]) == 4 and all(len(r) == len(result["columns"]) for r in result["rows"])


def test_ism_endpoint_returns_a_position_by_base_map(client, adapters):
    seq = adapters.test_rows[0][0]
    result = client.predict(seq, adapters.repos[1], api_name="/ism")
    delta = np.array(result["delta"])
    assert delta.shape == (len(seq), 4) and result["bases"] == list(BASES)
    assert all(delta[i, BASES.index(ch)] == 0 for i, ch in enumerate(seq))
    assert result["target_class"] in result["reference_probabilities"]


def test_export_csv_endpoint_downloads_the_comparison_table(client, adapters):
    rows = adapters.test_rows[:3]
    path = client.predict(_fasta(rows, ["=danger", "b", "c"]), ",".join(adapters.repos), api_name="/export_csv")
    with open(path, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["id"] for r in table] == ["'=danger", "b", "c"]
    assert float(table[0]["space-promoter-seed1: p(promoter)"]) + float(
        table[0]["space-promoter-seed1: p(background)"]) == pytest.approx(1.0, abs=1e-5)
    assert table[1]["space-promoter-seed2: agree"] in ("agree", "disagree")


def test_bad_input_is_answered_with_an_error_naming_the_position(client, adapters):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=r"record 'q&lt;b&gt;'.*'X' at position 5"):
        client.predict(">q<b>\nACGTXACGT\n", adapters.repos[0], api_name="/classify")
    with pytest.raises(AppError, match="limited to 1,000 bp"):  # refused before the (missing) adapter is looked up
        client.predict("A" * 1001, "alice/no-such-adapter", api_name="/ism")
    with pytest.raises(AppError, match="was not found"):
        client.predict("ACGT", "alice/no-such-adapter", api_name="/classify")
    with pytest.raises(AppError, match="not a hubtune model"):
        client.predict("ACGT", [adapters.repos[0], "alice/tiny-nt"], api_name="/compare")  # a base, not an adapter


def test_page_run_event_fills_table_plots_and_csv_and_lists_adapters(client, space, adapters):
    rows = adapters.test_rows[:3]
    status, metrics, table, csv_path, prob_plot, pca_plot, pick, explain_adapter = client.predict(
        _fasta(rows), None, adapters.repos, api_name="/run")
    assert "Classified 3 sequence(s) with 2 adapter(s)" in status and "hubtune-ok" in status
    assert "test MCC" in metrics and "pre-trained probe" in metrics
    table = table.get("value", table)  # the page's table comes as a component update (value + column widths)
    assert [r[0] for r in table["data"]] == ["s1", "s2", "s3"]
    assert Path(csv_path).read_text().startswith("id,bp,windows,")
    assert prob_plot is not None and pca_plot is not None
    error_status, *_ = client.predict("ACGTZ", None, adapters.repos, api_name="/run")
    assert "hubtune-error" in error_status and "position 5" in error_status  # shown inline, not as an exception
    choices = load_render_module().adapter_choices(space.app.default_listing(), [])
    labels = {value: label for label, value in choices}
    assert set(adapters.repos) <= set(labels)
    assert "[tiny-nt]" in labels[adapters.repos[0]] and "test MCC" in labels[adapters.repos[0]]
    assert "background/promoter" in labels[adapters.repos[1]]
