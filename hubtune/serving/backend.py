"""`SpaceBackend`: what the Space does, without a UI. Parse input, enforce limits, then classify, compare with the
pre-trained base, explain (in-silico mutagenesis, per-window score track) and project embeddings (PCA).

Answers follow each model's problem type (`hubtune.problems`): class probabilities (single-label), per-label
probabilities and label sets at the run's thresholds (multi-label), or predicted values per target (regression); the
pre-trained base answers through the probe head shipped with the run, and mutagenesis explains the chosen class's or
label's probability or the chosen target's value.

Inference goes through `hubtune.serving.passes`: one pass per model over a request's distinct windows, LoRA weights
merged for the pass, and the base model's per-window embeddings computed once per base model and reused by every
adapter of that base, by later requests and by the projection.

The Gradio app (`space/app.py`) is a thin layer over this class; everything here is testable without Gradio.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..evaluate import INFERENCE_BATCH_SIZE
from ..problems import REGRESSION
from ..run import BASE_PROBE_FILE
from .adapters import AdapterMeta
from .analysis import ism_model_inputs, ism_scan, pca_2d, window_count, window_starts
from .cache import ModelCache
from .inputs import Limits, check_ism_length, check_windows, parse_adapter_list, read_input, read_pairs
from .passes import answer, embeddings, window_predictions
from .results import AdapterPrediction, Comparison, IsmResult, Projection, WindowTrack

Sequences = str | Sequence[tuple[str, str]]


class SpaceBackend:
    """Parse input, enforce limits, then classify / compare / explain / project with models from a `ModelCache`.

    Example:
        >>> backend = SpaceBackend(ModelCache(device="cpu"))  # doctest: +SKIP
        >>> backend.classify(">s1\\nTATAAAGGC\\n", ["alice/promoter-lora"]).to_dict()["sequences"][0]  # doctest: +SKIP
    """

    def __init__(self, cache: ModelCache | None = None, limits: Limits | None = None, *,
                 batch_size: int | None = None):
        self.cache = cache or ModelCache()
        self.limits = limits or Limits.from_env()
        self.batch_size = batch_size or INFERENCE_BATCH_SIZE * (2 if self.cache.device.startswith("cuda") else 1)

    # -- input -----------------------------------------------------------------------------------------------------
    def parse(self, text: str | None = None, file: str | Path | None = None) -> list[tuple[str, str]]:
        """Validated (id, sequence) pairs within the limits; see `hubtune.serving.read_input`.

        Example:
            >>> SpaceBackend(ModelCache(device="cpu")).parse("ACGT\\nGGCC")  # doctest: +SKIP
            [('seq1', 'ACGT'), ('seq2', 'GGCC')]
        """
        return read_input(text, file, self.limits)

    def parse_one(self, sequence: str | tuple[str, str]) -> tuple[str, str]:
        """Exactly one validated (id, sequence) from text or a pair.

        Raises:
            DataError: not DNA, a limit, or not exactly one sequence.
        """
        records = self._records(sequence) if isinstance(sequence, str) else self._records([sequence])
        if len(records) != 1:
            raise DataError(f"Give exactly one sequence here ({len(records)} were given).")
        return records[0]

    def check_ism(self, seq_id: str, sequence: str) -> None:
        """Refuse in-silico mutagenesis of a sequence longer than `limits.max_ism_bp` (before any model work)."""
        check_ism_length(seq_id, sequence, self.limits)

    def windows(self, records: Sequence[tuple[str, str]], metas: Sequence[AdapterMeta]) -> int:
        """Model windows a classification of `records` by `metas` runs: each adapter's windows, twice when the base
        model's answer (its probe head) is computed too.

        Example:
            >>> backend.windows([("s1", "ACGT" * 300)], [backend.cache.meta("alice/promoter-lora")])  # doctest: +SKIP
            6
        """
        total = 0
        for meta in metas:
            per_model = sum(window_count(len(seq), meta.window_bp, meta.stride_bp) for _, seq in records)
            total += per_model * (2 if (meta.folder / BASE_PROBE_FILE).is_file() else 1)
        return total

    def _records(self, sequences: Sequences) -> list[tuple[str, str]]:
        return self.parse(sequences) if isinstance(sequences, str) else read_pairs(sequences, self.limits)

    def _adapters(self, adapters: str | Sequence[str] | None) -> list[str]:
        ids = parse_adapter_list(adapters)
        if not ids:
            raise ConfigError("No adapter chosen. Pick one from the list or type a repo id such as 'user/name'.")
        if len(ids) > self.limits.max_adapters_per_request:
            raise ConfigError(
                f"{len(ids)} adapters were chosen; at most {self.limits.max_adapters_per_request} can be compared in "
                "one request. Remove some."
            )
        return [self.cache.resolve_id(a) for a in ids]  # validates every id before any download

    def prepare(self, adapters: str | Sequence[str]) -> list[str]:
        """Validate adapter ids and load them into the cache (no inference); returns their cache keys.

        On ZeroGPU the inference functions run in a short-lived worker process, so models must be loaded in the main
        process first, where they stay; elsewhere this just loads ahead of the request.
        """
        ids = self._adapters(adapters)
        for adapter in ids:
            with self.cache.use(adapter):
                pass
        return ids

    # -- classify --------------------------------------------------------------------------------------------------
    def classify(self, sequences: Sequences, adapters: str | Sequence[str]) -> Comparison:
        """Each adapter's answer next to its base model's, for every sequence: labels and class probabilities, label
        sets and per-label probabilities, or predicted values, as the adapters' problem type says.

        Args:
            sequences: pasted text (raw lines or FASTA) or (id, sequence) pairs.
            adapters: one or more adapter repo ids of the same task (same problem type and output names).

        Raises:
            DataError: bad input or a limit; ConfigError: no/too many adapters, or adapters of different tasks;
            HubError: an adapter cannot be found; ModelError: it cannot be loaded.

        Example:
            >>> backend.classify("ACGT" * 30, ["alice/a", "alice/b"]).columns()[3]  # doctest: +SKIP
            'a: label'
        """
        records = self._records(sequences)  # limits first: nothing is downloaded or run for a refused request
        ids = self._adapters(adapters)
        metas = [self.cache.meta(a) for a in ids]
        labels = metas[0].label_names
        problem = metas[0].problem
        for meta in metas[1:]:
            if meta.problem.name != problem.name:
                raise ConfigError(
                    f"{meta.repo_id} is a {meta.problem.description} model but {metas[0].repo_id} is a "
                    f"{problem.description} model; only adapters of the same task can be compared side by side."
                )
            if sorted(meta.label_names) != sorted(labels):
                raise ConfigError(
                    f"{meta.repo_id} predicts {', '.join(meta.label_names)} but {metas[0].repo_id} predicts "
                    f"{', '.join(labels)}; only adapters of the same task can be compared side by side."
                )
        check_windows(self.windows(records, metas), self.limits, "classification")  # before any model is loaded
        seqs = [s for _, s in records]
        predictions = []
        for meta in metas:
            with self.cache.serve(meta.repo_id) as served:
                result = answer(served, seqs, batch_size=self.batch_size)
            order = [meta.label_names.index(name) for name in labels]  # same outputs, maybe another order
            thresholds, base_thresholds = meta.thresholds, meta.base_thresholds
            predictions.append(AdapterPrediction(
                repo_id=meta.repo_id,
                label_names=list(labels),
                outputs=result.outputs[:, order],
                base_outputs=None if result.base_outputs is None else result.base_outputs[:, order],
                tracks=[t[:, order] for t in result.tracks],
                problem=problem,
                thresholds=None if thresholds is None else [thresholds[i] for i in order],
                base_thresholds=None if base_thresholds is None else [base_thresholds[i] for i in order],
            ))
        return Comparison(records=records, label_names=list(labels), predictions=predictions, metas=metas)

    # -- explain ---------------------------------------------------------------------------------------------------
    def ism(self, sequence: str | tuple[str, str], adapter: str, *, target: str | None = None) -> IsmResult:
        """In-silico mutagenesis of one sequence (at most `limits.max_ism_bp` bp) with one adapter: the change of
        P(`target` class), P(`target` label) or the `target`'s predicted value for every substitution.

        Args:
            target: a class, label or target name of the adapter; default: the predicted class, the most probable
                label, or the first target.

        Raises:
            DataError: bad sequence, or longer than the ISM limit; ConfigError: unknown target name.

        Example:
            >>> backend.ism("TATAAAGGC", "alice/promoter-lora").delta.shape  # doctest: +SKIP
            (9, 4)
        """
        seq_id, seq = self.parse_one(sequence)
        self.check_ism(seq_id, seq)
        (repo,) = self._adapters([adapter])
        meta = self.cache.meta(repo)
        check_windows(ism_model_inputs(len(seq), meta.window_bp, meta.stride_bp), self.limits,
                      "in-silico mutagenesis")
        problem = meta.problem
        target_index = 0 if problem.name == REGRESSION else None  # values: no "largest" output to default to
        if target is not None and str(target) != "":
            if target not in meta.label_names:
                raise ConfigError(f"Unknown {problem.output_kind} {target!r}; {repo} predicts "
                                  f"{', '.join(meta.label_names)}.")
            target_index = meta.label_names.index(target)
        with self.cache.serve(repo) as served:
            def score(pieces: list[str]) -> np.ndarray:  # variants are one-off inputs: not kept in the memo
                return window_predictions(served, pieces, batch_size=self.batch_size, memo=False)

            delta, reference, t = ism_scan(seq, meta.window_bp, meta.stride_bp, score, target=target_index)
        return IsmResult(repo, seq_id, seq, list(meta.label_names), t, reference, delta, problem)

    def window_track(self, sequence: str | tuple[str, str], adapter: str) -> WindowTrack:
        """Per-window outputs (probabilities or values) along one sequence (a single window when it fits the
        model).

        Example:
            >>> len(backend.window_track("ACGT" * 300, "alice/promoter-lora").starts)  # doctest: +SKIP
            3
        """
        seq_id, seq = self.parse_one(sequence)
        (repo,) = self._adapters([adapter])
        meta = self.cache.meta(repo)
        check_windows(window_count(len(seq), meta.window_bp, meta.stride_bp), self.limits, "score track")
        with self.cache.serve(repo) as served:
            track = answer(served, [seq], batch_size=self.batch_size, base=False).tracks[0]
        return WindowTrack(repo, seq_id, len(seq), window_starts(len(seq), meta.window_bp, meta.stride_bp),
                           meta.window_bp, track, list(meta.label_names), meta.problem)

    # -- embeddings ------------------------------------------------------------------------------------------------
    def project(self, sequences: Sequences, adapter: str, *, prediction: AdapterPrediction | None = None) -> Projection:
        """PCA of base vs fine-tuned mean embeddings (first window of each sequence), coloured by each model's
        prediction: the class, the label set, or the first target's predicted value.

        Args:
            prediction: this adapter's answer for the same sequences, from `classify`; reused for the colours instead
                of predicting again.

        Example:
            >>> backend.project(">a\\nACGT\\n>b\\nGGCC\\n", "alice/promoter-lora").fine_tuned.shape  # doctest: +SKIP
            (2, 2)
        """
        records = self._records(sequences)
        (repo,) = self._adapters([adapter])
        meta: AdapterMeta = self.cache.meta(repo)
        seqs = [s for _, s in records]
        reuse = prediction is not None and prediction.repo_id == repo
        check_windows(2 * len(records) + (0 if reuse else self.windows(records, [meta])), self.limits, "projection")
        with self.cache.serve(repo) as served:
            if prediction is None or prediction.repo_id != repo:
                result = answer(served, seqs, batch_size=self.batch_size)
                prediction = AdapterPrediction(
                    repo_id=repo,
                    label_names=list(meta.label_names),
                    outputs=result.outputs,
                    base_outputs=result.base_outputs,
                    tracks=[],
                    problem=meta.problem,
                    thresholds=meta.thresholds,
                    base_thresholds=meta.base_thresholds,
                )
            # The first window of a sequence that fits one window is the window classify ran: its embeddings come
            # from the memo when the same sequences were just classified.
            fine = embeddings(served, seqs, fine_tuned=True, batch_size=self.batch_size)
            base = embeddings(served, seqs, fine_tuned=False, batch_size=self.batch_size)
        fine_labels = prediction.labels
        base_labels = prediction.base_labels
        base_xy, base_var = pca_2d(base)
        fine_xy, fine_var = pca_2d(fine)
        fine_values = base_values = None
        if meta.problem.name == REGRESSION:  # coloured by the first target's predicted value
            fine_values = prediction.outputs[:, 0]
            base_values = fine_values if prediction.base_outputs is None else prediction.base_outputs[:, 0]
        return Projection(repo, [i for i, _ in records], base_xy, fine_xy, base_var, fine_var,
                          fine_labels if base_labels is None else base_labels, fine_labels, list(meta.label_names),
                          meta.problem, base_values, fine_values, meta.label_names[0] if fine_values is not None else "")


__all__ = ["SpaceBackend"]
