"""The Space for multi-label and regression models: the serving layer answers with per-label probabilities and label
sets, or predicted values per target, next to the base model's probe, equal to `hubtune.load_classifier`'s; in-silico
mutagenesis explains a chosen label's probability or a chosen target's value; tables, figures, messages and the API
name labels and targets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from shared_runs import one_torch_thread
from test_space import free_port, load_app_module, load_render_module

from hubtune.data.example_tasks import ACTIVITY_TARGETS, BINDING_LABELS, activity_task_path
from hubtune.errors import ConfigError
from hubtune.run import RunInfo
from hubtune.serving import BASES, ModelCache, SpaceBackend, label_sets, window_starts
from hubtune.serving.passes import MERGE_MIN_WINDOWS

RUNS = {"regression": "regression_run", "multi_label": "multilabel_run"}


def _records() -> list[tuple[str, str]]:
    """Test sequences of the generated activity task: single windows, and joined pairs of several windows."""
    with open(activity_task_path() / "test.csv", newline="") as handle:
        seqs = [row["sequence"] for row in csv.DictReader(handle)][:8]
    return [(f"s{i}", seq) for i, seq in enumerate(seqs[:4])] + [
        (f"long{i}", seqs[4 + i] + seqs[5 + i]) for i in range(3)]


@pytest.fixture(scope="module")
def backend() -> SpaceBackend:
    return SpaceBackend(ModelCache(device="cpu", allow_local_paths=True), batch_size=8)


@pytest.fixture(scope="module")
def classifiers(regression_run, multilabel_run) -> dict[str, Any]:
    from hubtune import load_classifier

    with one_torch_thread():
        return {"regression": load_classifier(regression_run, device="cpu"),
                "multi_label": load_classifier(multilabel_run, device="cpu")}


@pytest.mark.parametrize("problem", ["regression", "multi_label"])
def test_answers_equal_load_classifier_for_the_adapter_and_the_base_probe(request, backend, classifiers, problem):
    run: Path = request.getfixturevalue(RUNS[problem])
    clf = classifiers[problem]
    records = _records()
    seqs = [s for _, s in records]
    with one_torch_thread():
        comparison = backend.classify(records, [str(run)])
        expected = clf.predict_outputs(seqs)
        _, tracks = clf.predict_windows(seqs)
        base = clf.predict_base_proba(seqs)
        described = clf.predict(records)
    pred = comparison.predictions[0]
    assert sum(len(t) for t in pred.tracks) >= MERGE_MIN_WINDOWS  # the merged-LoRA pass runs here
    assert max(len(t) for t in pred.tracks) > 1
    np.testing.assert_allclose(pred.outputs, expected, atol=1e-5, rtol=0)
    assert base is not None
    np.testing.assert_allclose(pred.base_outputs, base, atol=1e-5, rtol=0)
    for new, old in zip(pred.tracks, tracks, strict=True):
        np.testing.assert_allclose(new, old, atol=1e-5, rtol=0)
    assert pred.labels == [p.label for p in described]  # the same text answer as `hubtune predict`
    name = run.name
    entry = comparison.to_dict()["sequences"][0]["adapters"][str(run)]
    assert comparison.to_dict()["problem_type"] == problem
    if problem == "regression":
        assert clf.label_names == list(ACTIVITY_TARGETS)
        assert comparison.columns() == ["id", "bp", "windows", f"{name}: developmental", f"{name}: housekeeping",
                                        f"{name}: base developmental", f"{name}: base housekeeping"]
        assert entry["values"] == pytest.approx(described[0].values, abs=1e-5)
        assert entry["base_values"] == pytest.approx(dict(zip(ACTIVITY_TARGETS, base[0], strict=True)), abs=1e-5)
        assert "agree" not in entry and "probabilities" not in entry and pred.agree is None
    else:
        info = RunInfo.read(run)
        assert clf.label_names == list(BINDING_LABELS) and info.thresholds
        assert f"{name}: labels" in comparison.columns() and f"{name}: p(GATA)" in comparison.columns()
        assert f"{name}: base p(FOX)" in comparison.columns() and f"{name}: agree" in comparison.columns()
        assert [label_sets(pred.outputs[i : i + 1], clf.label_names, info.thresholds)[0]
                for i in range(len(seqs))] == [p.labels for p in described]
        assert entry["labels"] == described[0].labels
        assert entry["probabilities"] == pytest.approx(described[0].probabilities, abs=1e-5)
        assert comparison.to_dict()["thresholds"][str(run)] == pytest.approx(
            dict(zip(BINDING_LABELS, info.thresholds, strict=True)))
        # The base probe's label set uses the thresholds tuned on dev for that probe (metrics.json).
        probe_thresholds = backend.cache.meta(str(run)).metrics["probe"]["dev"]["thresholds"]
        assert entry["base_labels"] == label_sets(base[:1], clf.label_names, probe_thresholds)[0]
        assert entry["agree"] == (entry["labels"] == entry["base_labels"])


@pytest.mark.parametrize(("problem", "target"), [("regression", "housekeeping"), ("multi_label", "GATA")])
def test_ism_of_a_chosen_target_or_label_equals_rescoring_mutated_sequences(request, backend, classifiers, problem,
                                                                            target):
    run: Path = request.getfixturevalue(RUNS[problem])
    clf = classifiers[problem]
    meta = backend.cache.meta(str(run))
    seq = "".join(s for _, s in _records())[: meta.window_bp + meta.stride_bp // 2]
    starts = window_starts(len(seq), meta.window_bp, meta.stride_bp)
    assert len(starts) == 2  # the answer averages two windows: a substitution changes one or both
    positions = (0, starts[1] - 1, starts[1] + 1, meta.window_bp - 1, len(seq) - 1)
    picks = [(p, next(base for base in BASES if base != seq[p])) for p in positions]
    with one_torch_thread():
        result = backend.ism(("long", seq), str(run), target=target)
        reference = clf.predict_outputs([seq])[0]
        mutants = clf.predict_outputs([seq[:p] + base + seq[p + 1 :] for p, base in picks])
        short = backend.ism(("short", seq[:40]), str(run))  # no target chosen
        short_reference = clf.predict_outputs([seq[:40]])[0]
    t = clf.label_names.index(target)
    assert result.target == t
    np.testing.assert_allclose(result.reference, reference, atol=1e-5)
    for (pos, base), outputs in zip(picks, mutants, strict=True):
        assert result.delta[pos, BASES.index(base)] == pytest.approx(outputs[t] - reference[t], abs=1e-5)
        assert result.delta[pos, BASES.index(seq[pos])] == 0
    assert np.abs(result.delta).max() > 0
    data = result.to_dict()
    assert data["target"] == target and "target_class" not in data
    if problem == "regression":
        assert result.quantity == data["quantity"] == "predicted housekeeping"
        assert data["reference_values"]["housekeeping"] == pytest.approx(reference[t], abs=1e-5)
        assert short.target == 0  # default: the first target
    else:
        assert result.quantity == data["quantity"] == "P(GATA)"
        assert data["reference_probabilities"]["GATA"] == pytest.approx(reference[t], abs=1e-5)
        assert short.target == int(short_reference.argmax())  # default: the most probable label
    kind = "target" if problem == "regression" else "label"
    with pytest.raises(ConfigError, match=rf"Unknown {kind} 'nope'.*{clf.label_names[-1]}"):
        backend.ism(("short", seq[:40]), str(run), target="nope")


def test_tables_figures_and_messages_name_labels_and_targets(backend, regression_run, multilabel_run):
    render = load_render_module()
    records = _records()
    with one_torch_thread():
        reg = backend.classify(records, [str(regression_run)])
        ml = backend.classify(records, [str(multilabel_run)])
        ism = backend.ism(("s0", records[0][1][:60]), str(regression_run), target="developmental")
        track = backend.window_track(records[-1], str(multilabel_run))
        reg_track = backend.window_track(records[-1], str(regression_run))
        projection = backend.project(records, str(regression_run), prediction=reg.predictions[0])
        ml_projection = backend.project(records, str(multilabel_run), prediction=ml.predictions[0])
    with pytest.raises(ConfigError, match="regression.*multi-label|multi-label.*regression"):
        backend.classify(records[:1], [str(regression_run), str(multilabel_run)])

    figure = render.figure_outputs(reg)
    assert [ax.get_xlabel() for ax in figure.axes] == ["predicted developmental", "predicted housekeeping"]
    assert "predicted values" in figure._suptitle.get_text()
    figure_ml = render.figure_outputs(ml)
    assert [ax.get_xlabel() for ax in figure_ml.axes] == [f"P({label})" for label in BINDING_LABELS]
    thresholds = RunInfo.read(multilabel_run).thresholds
    assert figure_ml.axes[1].lines[0].get_xdata()[0] == pytest.approx(thresholds[1])  # the run's GATA threshold
    ism_figure = render.figure_ism(ism)
    assert ism_figure.axes[-1].get_ylabel() == "Δ predicted developmental"  # the colour bar
    assert "predicted developmental = " in ism_figure._suptitle.get_text()
    track_labels = [t.get_text() for t in render.figure_track(track).axes[0].get_legend().get_texts()]
    assert track_labels == [f"P({label}) per window" for label in BINDING_LABELS]
    reg_track_axes = render.figure_track(reg_track).axes[0]
    assert reg_track_axes.get_ylabel() == "predicted value"
    assert [t.get_text() for t in reg_track_axes.get_legend().get_texts()] == [
        f"predicted {t} per window" for t in ACTIVITY_TARGETS]
    projection_figure = render.figure_projection(projection)
    assert "predicted developmental" in [ax.get_ylabel() for ax in projection_figure.axes]  # colour bars
    legend = render.figure_projection(ml_projection).axes[1].get_legend()
    assert {t.get_text() for t in legend.get_texts()} == set(ml.predictions[0].labels)
    for fig in (figure, figure_ml, ism_figure, projection_figure):
        fig.savefig(io.BytesIO(), format="png")

    headers = render.table_value(reg)["headers"]
    assert f"{regression_run.name}: base housekeeping" in headers
    reg_meta, ml_meta = backend.cache.meta(str(regression_run)), backend.cache.meta(str(multilabel_run))
    html_reg = render.metrics_html([reg_meta])
    spearman = reg_meta.metrics["finetuned"]["test"]["spearman"]
    assert "test Spearman" in html_reg and "test MCC" not in html_reg and "k-mer baseline" in html_reg
    assert f"<td>fine-tuned</td><td>{spearman:.3f} (" in html_reg  # with its bootstrap interval
    html_ml = render.metrics_html([ml_meta])
    assert "test macro AUPRC" in html_ml and "pre-trained probe" in html_ml
    assert f"{ml_meta.metrics['probe']['test']['auprc_macro']:.3f}" in html_ml


@pytest.fixture(scope="module")
def task_client(regression_run, multilabel_run, tmp_path_factory) -> Iterator[Any]:
    from gradio_client import Client

    app = load_app_module()
    backend = SpaceBackend(ModelCache(device="cpu", allow_local_paths=True))
    with one_torch_thread():
        demo = app.build_app(backend, adapters=[], listing=lambda: [], preload=False)
    port = free_port()
    app.launch(demo, host="127.0.0.1", port=port, block=False)
    try:
        yield Client(f"http://127.0.0.1:{port}", verbose=False, analytics_enabled=False,
                     download_files=str(tmp_path_factory.mktemp("task-downloads")))
    finally:
        demo.close(verbose=False)


def test_api_answers_label_sets_and_values_and_explains_a_chosen_output(task_client, classifiers, regression_run,
                                                                        multilabel_run):
    from gradio_client.exceptions import AppError

    records = _records()[:3]
    fasta = "".join(f">{i}\n{s}\n" for i, s in records)
    with one_torch_thread():
        ml = task_client.predict(fasta, str(multilabel_run), api_name="/classify")
        reg_csv = task_client.predict(fasta, str(regression_run), api_name="/export_csv")
        ism = task_client.predict(records[0][1][:50], str(multilabel_run), "FOX", api_name="/ism")
        with pytest.raises(AppError, match="Unknown target 'FOX'"):
            task_client.predict(records[0][1][:50], str(regression_run), "FOX", api_name="/ism")
    assert ml["problem_type"] == "multi_label" and ml["label_names"] == list(BINDING_LABELS)
    entry = ml["sequences"][0]["adapters"][str(multilabel_run)]
    assert set(entry["labels"]) <= set(BINDING_LABELS) and set(entry["probabilities"]) == set(BINDING_LABELS)
    assert entry["label"] == (";".join(entry["labels"]) or "none")
    with open(reg_csv, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["id"] for r in table] == ["s0", "s1", "s2"]
    clf = classifiers["regression"]
    with one_torch_thread():
        values = clf.predict_outputs([s for _, s in records])
        base = clf.predict_base_proba([s for _, s in records])
    for j, target in enumerate(ACTIVITY_TARGETS):
        np.testing.assert_allclose([float(r[f"{regression_run.name}: {target}"]) for r in table], values[:, j],
                                   atol=1e-5)
        np.testing.assert_allclose([float(r[f"{regression_run.name}: base {target}"]) for r in table], base[:, j],
                                   atol=1e-5)
    assert ism["target"] == "FOX" and ism["quantity"] == "P(FOX)"
    assert np.array(ism["delta"]).shape == (50, 4)
