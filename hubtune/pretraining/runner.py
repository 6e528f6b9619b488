"""`pretrain(PretrainConfig(...))`: continued masked-LM pre-training of a genomic LM on unlabelled DNA.

Flow: check `--output` -> read the corpus into N-free windows with a held-out part -> load the model with its
masked-LM head -> fixed-mask held-out score before -> transformers' Trainer with `DataCollatorForLanguageModeling`
(dynamic masking, seeded; held-out score every few steps) -> LoRA merged -> held-out score after -> the model in its
family's published layout, `pretraining.json` and `pretraining.png`, swapped into place. Resumable (`resume`) from the
Trainer's checkpoints in `<output>.partial`; runs under `accelerate launch` (only the main process writes).
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError
from ..jsonio import write_json
from ..masked_lm import FixedMasks, MaskedScore, fixed_masks, score_masked
from ..models import load_base_model, load_tokenizer, resolve_model
from ..plots import new_figure, save_figure
from ..pretrained_folder import PLOT_FILE, RECORD_FILE, RECORD_FORMAT, RECORD_VERSION
from ..progress import info
from ..repo_ids import public_source
from ..run import library_versions
from ..run_output import open_staging
from ..trainer import is_main_process, last_complete_checkpoint, training_arguments, world
from .config import PretrainConfig
from .corpus import Corpus, read_corpus
from .folder import claim_pretrain_output, commit_pretrained
from .writer import write_masked_lm

__all__ = ["pretrain"]


def _lora(model: Any, family: Any, r: int) -> Any:
    import re

    from peft import LoraConfig, get_peft_model

    targets = [t for t in family.lora_targets if any(n.endswith("." + t) for n, _ in model.named_modules())]
    if not targets:
        raise ConfigError(f"--method lora: no LoRA target modules known for {family.display_name}; use --method full.")
    pattern = rf"^{re.escape(family.layers_prefix)}\.\d+\..*\.(" + "|".join(map(re.escape, targets)) + ")$"
    if family.name == "auto":
        pattern = r".*\.(" + "|".join(map(re.escape, targets)) + ")$"
    return get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules=pattern))


def _held_out_callback(masks: FixedMasks, pad_id: int, every: int, curve: list[dict[str, Any]]):
    from transformers import TrainerCallback

    class HeldOut(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % every or not state.is_world_process_zero or model is None:
                return
            score = score_masked(model, masks, pad_token_id=pad_id)
            curve.append({"step": state.global_step, **score.to_dict()})
            info(f"  step {state.global_step}: held-out masked-LM loss {score.loss:.4f}, accuracy {score.accuracy:.3f}")

    return HeldOut()


def _plot(curve: list[dict[str, Any]], log_history: list[dict[str, Any]], path: Path, title: str) -> Path:
    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    if train:
        ax.plot(*zip(*train, strict=True), "-", color="tab:grey", alpha=0.7, label="training loss (dynamic masks)")
    if curve:
        ax.plot([c["step"] for c in curve], [c["loss"] for c in curve], "o-", color="tab:blue",
                label="held-out loss (fixed masks)")
    ax.set_xlabel("step")
    ax.set_ylabel("masked-LM loss (nats/token)")
    ax.set_title(title, fontsize=10)
    ax.legend()
    return save_figure(fig, path)


def _read(config: PretrainConfig) -> Corpus:
    corpus = read_corpus(config.data, chunk_bp=config.chunk_bp, stride_bp=config.stride, min_bp=config.min_chunk_bp,
                         eval_fraction=config.eval_fraction, seed=config.seed, sequence_column=config.sequence_column,
                         max_sequences=config.max_sequences)
    if len(corpus.eval) > config.eval_max_windows:
        import random

        rows = sorted(random.Random(config.seed).sample(range(len(corpus.eval)), config.eval_max_windows))
        corpus.eval = [corpus.eval[i] for i in rows]
    return corpus


def _record(config: PretrainConfig, resolved: Any, corpus: Corpus, max_length: int, steps: int, seconds: float,
            before: MaskedScore, after: MaskedScore, curve: list[dict[str, Any]]) -> dict[str, Any]:
    settings = config.to_dict()
    for key in ("data", "output"):
        settings[key] = public_source(str(settings[key]))
    settings["model"] = public_source(resolved.name)
    return {
        "format": RECORD_FORMAT,
        "format_version": RECORD_VERSION,
        "base_model": public_source(resolved.name),
        "base_model_revision": resolved.revision,
        "family": resolved.family.name,
        "method": config.method,
        "corpus": {"source": public_source(config.data), **corpus.to_dict(), "chunk_bp": config.chunk_bp,
                   "stride_bp": config.stride, "min_chunk_bp": config.min_chunk_bp},
        "max_length": max_length,
        "steps": steps,
        "train_seconds": seconds,
        "mlm_probability": config.mlm_probability,
        "seed": config.seed,
        "eval": {"before": before.to_dict(), "after": after.to_dict(), "windows": len(corpus.eval),
                 "masks": "fixed: window i masked at positions drawn from (seed, i), all replaced by the mask token"},
        "curve": curve,
        "settings": settings,
        "versions": library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def pretrain(config: PretrainConfig) -> Path | None:
    """Continue masked-LM pre-training of `config.model` on `config.data`; returns the written folder (None on the
    other processes of an `accelerate launch`).

    Raises:
        ConfigError: bad settings or an `--output` that may not be written (checked before any work).
        DataError: unreadable input, bad bases (named with file and line), a corpus too small to hold out a part.
        ModelError: the model cannot be loaded with a masked-LM head.

    Example:
        >>> out = pretrain(PretrainConfig(model="tiny-nt", data="genome.fa.gz", output="runs/nt-adapted",
        ...                               max_steps=300))  # doctest: +SKIP
        >>> read_pretraining_record(out).loss_after  # doctest: +SKIP
    """
    from transformers import DataCollatorForLanguageModeling, Trainer, set_seed
    from transformers.trainer_callback import PrinterCallback

    if not isinstance(config, PretrainConfig):
        raise ConfigError("pretrain() takes a PretrainConfig: pretrain(PretrainConfig(model=..., data=..., output=...)).")
    config.validate()
    output = Path(config.output)
    staging = claim_pretrain_output(output, overwrite=config.overwrite, resume=config.resume)
    corpus = _read(config)
    resolved = resolve_model(config.model, revision=config.revision)
    tokenizer = load_tokenizer(config.model, resolved=resolved, trust_remote_code=config.trust_remote_code)
    if tokenizer.mask_token_id is None:
        raise ModelError(f"The tokenizer of {config.model} has no mask token, so it cannot be pre-trained as a "
                         "masked-LM.")
    family = resolved.family
    max_length = config.max_length or family.default_max_length(config.chunk_bp)
    info(f"model {config.model} ({family.display_name}), {config.method} masked-LM pre-training on "
         f"{len(corpus.train)} windows ({sum(map(len, corpus.train)):,} bp), {len(corpus.eval)} held out; "
         f"max length {max_length} tokens")
    set_seed(config.seed)
    model = load_base_model(config.model, task="mlm", resolved=resolved, trust_remote_code=config.trust_remote_code)
    masks = fixed_masks(tokenizer, corpus.eval, max_length=max_length, mlm_probability=config.mlm_probability,
                        seed=config.seed)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    before = score_masked(model, masks, pad_token_id=pad_id)
    info(f"held-out masked-LM loss before: {before.loss:.4f} (accuracy {before.accuracy:.3f}, "
         f"{before.n_masked} masked tokens)")
    if config.method == "lora":
        model = _lora(model, family, config.lora_r)
    if is_main_process():
        open_staging(staging, overwrite=config.overwrite, resume=config.resume)

    from datasets import Dataset

    encoded = tokenizer(corpus.train, truncation=True, max_length=max_length, return_special_tokens_mask=True,
                        return_token_type_ids=False)
    train_set = Dataset.from_dict(dict(encoded))
    per_step = config.batch_size * config.grad_accum * world()[1]
    total_steps = config.max_steps or max(1, math.ceil(len(train_set) / per_step * config.epochs))
    every = config.eval_steps or max(1, math.ceil(total_steps / 5))
    curve: list[dict[str, Any]] = [{"step": 0, **before.to_dict()}]
    args = training_arguments(
        output_dir=staging / "checkpoints",
        seed=config.seed,
        precision=config.precision,
        extra=config.extra,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        weight_decay=config.weight_decay,
        warmup_steps=int(config.warmup_ratio * total_steps),
        save_strategy="steps",
        save_steps=every,
        save_total_limit=1,
        logging_steps=max(1, min(every, 10)),
        dataloader_num_workers=0,
        remove_unused_columns=True,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=config.mlm_probability),
        callbacks=[_held_out_callback(masks, pad_id, every, curve)],
    )
    trainer.remove_callback(PrinterCallback)
    resume_from = last_complete_checkpoint(args.output_dir) if config.resume else None
    if resume_from:
        info(f"resuming from {resume_from}")
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - start
    if not is_main_process():
        return None
    trained = trainer.accelerator.unwrap_model(trainer.model)
    if config.method == "lora":
        trained = trained.merge_and_unload()
    trained = trained.float()
    after = score_masked(trained, masks, pad_token_id=pad_id)
    if not curve or curve[-1]["step"] != trainer.state.global_step:
        curve.append({"step": trainer.state.global_step, **after.to_dict()})
    info(f"held-out masked-LM loss after {trainer.state.global_step} steps: {after.loss:.4f} (accuracy "
         f"{after.accuracy:.3f}; before {before.loss:.4f})")
    shutil.rmtree(staging / "checkpoints", ignore_errors=True)
    write_masked_lm(trained, tokenizer, staging, source=resolved.source, revision=resolved.revision)
    _plot(curve, list(trainer.state.log_history), staging / PLOT_FILE,
          f"{public_source(config.model)} on {public_source(config.data)}: masked-LM loss")
    write_json(staging / RECORD_FILE, _record(config, resolved, corpus, max_length, trainer.state.global_step,
                                              seconds, before, after, curve))
    commit_pretrained(staging, output, overwrite=config.overwrite)
    return output
