"""An in-repo imitation of the DNABERT-2 repository's `finetune/train.py`, for side-by-side timing with hubtune.

What it does, as the published script does:
  * each split (train.csv, dev.csv, test.csv) is tokenized once with ``padding="longest"`` over the WHOLE split,
    truncated at ``--model_max_length``: every sequence of a split is padded to that split's longest;
  * the collator re-pads the (already equal-length) rows and builds ``attention_mask = input_ids != pad``;
  * a plain `transformers.Trainer` (random sampling, AdamW), LoRA from peft on ``--lora_target_modules`` with
    ``bias="none"`` and task type SEQ_CLS (peft then trains the classifier in full);
  * after training, ``trainer.evaluate`` on the test split (sklearn accuracy / macro F1 / MCC / precision / recall
    computed from arg-maxed logits) written to ``<output_dir>/results/<run_name>/eval_results.json``.

What differs, on purpose: the model is DNABERT-2 in the published layout loaded with hubtune's native class
(`hubtune.models.load_base_model`) instead of the repository's remote code, so both recipes run the same modelling
code (the published code drops padding tokens before the dense layers and the MLP; so does the native class). The
command line takes the published names (``--model_name_or_path``, ``--data_path``, ``--use_lora``, ...) and every
`transformers.TrainingArguments` option. The last stdout line is one JSON object with the timings, for
`bench/bench_train.py`.

    python bench/reference_recipe.py --model_name_or_path MODEL --data_path ../shared/data/GUE/prom/prom_300_tata \
        --use_lora --lora_target_modules Wqkv --model_max_length 128 --per_device_train_batch_size 32 \
        --max_steps 100 --learning_rate 5e-4 --eval_strategy no --save_strategy no --output_dir /tmp/ref
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from torch.utils.data import Dataset  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # hubtune from this checkout, without installing it


@dataclass
class ModelArguments:
    """The published script's model options."""

    model_name_or_path: str = field(default="zhihan1996/DNABERT-2-117M")
    use_lora: bool = field(default=False, metadata={"help": "whether to use LoRA"})
    lora_r: int = field(default=8, metadata={"help": "hidden dimension for LoRA"})
    lora_alpha: int = field(default=32, metadata={"help": "alpha for LoRA"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout rate for LoRA"})
    lora_target_modules: str = field(default="query,value", metadata={"help": "where to perform LoRA"})


@dataclass
class DataArguments:
    """The published script's data options (k-mer input is not imitated: DNABERT-2 uses BPE)."""

    data_path: str = field(default="", metadata={"help": "folder with train.csv, dev.csv and test.csv"})


@dataclass
class RecipeTrainingArguments(transformers.TrainingArguments):
    """`TrainingArguments` with the published script's extra fields and defaults."""

    run_name: str | None = field(default="run")
    model_max_length: int = field(default=512, metadata={"help": "Maximum sequence length."})
    optim: str = field(default="adamw_torch")
    per_device_train_batch_size: int = field(default=1)
    per_device_eval_batch_size: int = field(default=16)
    num_train_epochs: float = field(default=1)
    logging_steps: float = field(default=100)
    save_steps: float = field(default=100)
    eval_steps: float | None = field(default=100)
    warmup_steps: float = field(default=50)
    weight_decay: float = field(default=0.01)
    learning_rate: float = field(default=1e-4)
    save_total_limit: int | None = field(default=3)
    dataloader_pin_memory: bool = field(default=False)
    seed: int = field(default=42)
    eval_and_save_results: bool = field(default=True)
    save_model: bool = field(default=False)


class SupervisedDataset(Dataset):
    """One split, tokenized once and padded to the split's longest sequence (capped at the tokenizer's max length).

    Example:
        >>> SupervisedDataset("data/train.csv", tokenizer).input_ids.shape  # doctest: +SKIP
        torch.Size([4904, 128])
    """

    def __init__(self, data_path: str | Path, tokenizer: Any):
        with open(data_path, newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        texts = [row[0] for row in rows]
        self.labels = [int(row[1]) for row in rows]
        output = tokenizer(texts, return_tensors="pt", padding="longest", max_length=tokenizer.model_max_length,
                           truncation=True)
        self.input_ids = output["input_ids"]
        self.num_labels = len(set(self.labels))

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.input_ids[i], "labels": self.labels[i]}


@dataclass
class DataCollatorForSupervisedDataset:
    """Re-pads a batch (a no-op for rows of one split) and marks real tokens as those that are not padding."""

    tokenizer: Any

    def __call__(self, instances: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        input_ids = torch.nn.utils.rnn.pad_sequence([row["input_ids"] for row in instances], batch_first=True,
                                                    padding_value=self.tokenizer.pad_token_id)
        labels = torch.tensor([row["labels"] for row in instances], dtype=torch.long)
        return {"input_ids": input_ids, "labels": labels, "attention_mask": input_ids.ne(self.tokenizer.pad_token_id)}


def preprocess_logits_for_metrics(logits: Any, _labels: Any) -> torch.Tensor:
    """Keep only the arg-max class of each row (what the published script's metrics use)."""
    if isinstance(logits, tuple):
        logits = logits[0]
    if logits.ndim == 3:
        logits = logits.reshape(-1, logits.shape[-1])
    return torch.argmax(logits, dim=-1)


def compute_metrics(eval_pred: Any) -> dict[str, float]:
    """sklearn accuracy, macro F1, MCC, macro precision and recall over rows whose label is not -100."""
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, precision_score, recall_score

    predictions, labels = eval_pred
    keep = labels != -100
    predictions, labels = predictions[keep], labels[keep]
    return {
        "accuracy": accuracy_score(labels, predictions),
        "f1": f1_score(labels, predictions, average="macro", zero_division=0),
        "matthews_correlation": matthews_corrcoef(labels, predictions),
        "precision": precision_score(labels, predictions, average="macro", zero_division=0),
        "recall": recall_score(labels, predictions, average="macro", zero_division=0),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (VmHWM; 0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def train(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the recipe; returns the timing summary that is also printed as the last stdout line.

    Example:
        >>> train(["--model_name_or_path", "model", "--data_path", "task", "--output_dir", "out"])  # doctest: +SKIP
    """
    from hubtune.models import load_base_model

    parser = transformers.HfArgumentParser((ModelArguments, DataArguments, RecipeTrainingArguments))
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        model_args.model_name_or_path, model_max_length=training_args.model_max_length, padding_side="right",
        use_fast=True,
    )
    data = Path(data_args.data_path)
    train_dataset = SupervisedDataset(data / "train.csv", tokenizer)
    val_dataset = SupervisedDataset(data / "dev.csv", tokenizer)
    test_dataset = SupervisedDataset(data / "test.csv", tokenizer)
    model = load_base_model(model_args.model_name_or_path, train_dataset.num_labels)
    if model_args.use_lora:
        from peft import LoraConfig, get_peft_model

        lora_config = LoraConfig(r=model_args.lora_r, lora_alpha=model_args.lora_alpha,
                                 target_modules=list(model_args.lora_target_modules.split(",")),
                                 lora_dropout=model_args.lora_dropout, bias="none", task_type="SEQ_CLS",
                                 inference_mode=False)
        model = get_peft_model(model, lora_config)
    trainer = transformers.Trainer(
        model=model, processing_class=tokenizer, args=training_args,
        preprocess_logits_for_metrics=preprocess_logits_for_metrics, compute_metrics=compute_metrics,
        train_dataset=train_dataset, eval_dataset=val_dataset,
        data_collator=DataCollatorForSupervisedDataset(tokenizer),
    )
    setup_seconds = time.perf_counter() - START
    started = time.perf_counter()
    train_output = trainer.train()
    train_seconds = time.perf_counter() - started
    summary: dict[str, Any] = {
        "setup_s": setup_seconds,
        "train_s": train_seconds,
        "train_runtime": train_output.metrics.get("train_runtime"),
        "train_samples_per_second": train_output.metrics.get("train_samples_per_second"),
        "padded_width": {"train": int(train_dataset.input_ids.shape[1]), "test": int(test_dataset.input_ids.shape[1])},
        "real_tokens_per_row": float(train_dataset.input_ids.ne(tokenizer.pad_token_id).sum(1).float().mean()),
    }
    if training_args.save_model:
        trainer.save_state()
        trainer.save_model(training_args.output_dir)
    if training_args.eval_and_save_results:
        started = time.perf_counter()
        results = trainer.evaluate(eval_dataset=test_dataset)
        summary["eval_s"] = time.perf_counter() - started
        summary["test_mcc"] = results.get("eval_matthews_correlation")
        results_path = Path(training_args.output_dir) / "results" / training_args.run_name
        results_path.mkdir(parents=True, exist_ok=True)
        (results_path / "eval_results.json").write_text(json.dumps(results))
    summary["peak_rss_mb"] = peak_rss_mb()
    summary["torch_threads"] = torch.get_num_threads()
    summary["wall_s"] = time.perf_counter() - START
    return summary


def main() -> int:
    os.environ.setdefault("HUBTUNE_NO_PROGRESS", "1")
    summary = train()
    print(json.dumps({k: (float(v) if isinstance(v, np.floating) else v) for k, v in summary.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
