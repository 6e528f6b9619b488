"""How each pitfall check decides, in words, from the thresholds the checks use (for reports and cards)."""

from __future__ import annotations

from ..data.balance import MAJORITY_WARN, MINORITY_WARN
from .causes import CHANCE_Z, COLLAPSE_RECALL, COLLAPSE_SHARE
from .curves import (
    CHANCE_LIFT,
    DEV_RISE_FLAG,
    DEV_RISE_WARN,
    LOSS_DROP_MIN,
    OVERFIT_GAP_FLAG,
    OVERFIT_GAP_WARN,
)
from .forgetting import FORGET_FLAG, FORGET_WARN, MASK_FRACTION, MIN_GAIN, REFERENCE
from .leakage import LEAK_FRACTION_FLAG, LEAK_SCORE_FLAG


def rule_notes() -> list[str]:
    """One Markdown bullet per check saying how it decides, with the thresholds in force. "Score" is the task's
    headline metric: MCC (single-label), macro AUPRC (multi-label) or Spearman (regression).

    Example:
        >>> rule_notes()[1].startswith("- **Overfitting**")
        True
    """
    return [
        "- **Score**: each task's headline metric: MCC for single-label tasks, macro AUPRC for multi-label tasks, "
        "Spearman (mean over targets) for regression. At chance MCC and Spearman are 0, macro AUPRC the mean "
        "prevalence of the labels.",
        f"- **Overfitting**: flagged when the kept model's train score exceeds its dev score by {OVERFIT_GAP_FLAG:.2f} or "
        f"more, or dev loss ends {DEV_RISE_FLAG:.0%} above its minimum while train loss kept falling (warning at "
        f"{OVERFIT_GAP_WARN:.2f} / {DEV_RISE_WARN:.0%}).",
        f"- **Underfitting**: flagged when the learning rate is 0, or train loss fell by less than {LOSS_DROP_MIN:.0%} "
        f"and the train score stayed less than {CHANCE_LIFT:.2f} above chance. The cause is named instead of a "
        "generic cure: *no learnable signal* when the fine-tuned model, the pre-trained probe and the k-mer baseline "
        f"are all at chance on test (the score within {CHANCE_Z} standard errors of chance, the 95% level over three "
        "models; the standard error from the bootstrap interval, else 1/√n for MCC and Spearman; a single-label "
        "model that predicts one class is judged by its AUROC): check labels and splits; *majority collapse* "
        f"(single-label tasks only) when one class takes {COLLAPSE_SHARE:.0%} or more of "
        f"the predictions and the other classes are recognised at most {COLLAPSE_RECALL:.0%} of the time: "
        "`--class-weights` unless the run used it (named first when that class dominates train). Training data "
        f"with a class at {MAJORITY_WARN:.0%} or more (two classes) or any class under {MINORITY_WARN:.0%} is "
        "warned about when it is loaded.",
        f"- **Catastrophic forgetting**: masked-LM loss ({MASK_FRACTION:.0%} of tokens masked, the same positions "
        f"throughout) on the task's test sequences, of a {REFERENCE}, of the pre-trained model and of the run's "
        "backbone in the pre-trained masked-LM model (an adapter merged in). Pre-training gained reference − "
        "pre-trained; the check reports the share of that gain fine-tuning lost: warning from "
        f"{FORGET_WARN:.0%}, flagged from {FORGET_FLAG:.0%}. Not measurable when the base has no masked-LM head "
        f"weights or beats the reference by less than {MIN_GAIN} nats per token (an untrained head).",
        "- **Data leakage**: test (or dev) rows whose sequence or reverse complement also occurs in an earlier split, "
        "or duplicates within test: the test score is recomputed on the deduplicated test set with the same model; "
        f"flagged when deduplication removes {LEAK_FRACTION_FLAG:.0%} or more of the test rows or moves the test "
        f"score by {LEAK_SCORE_FLAG:.2f} or more, a warning otherwise (and when only dev overlaps train).",
        "- A check the run does not allow is *not measurable* (the reason is given); a skipped one is *not measured*. "
        "Advice never names the method the run already uses.",
    ]


__all__ = ["rule_notes"]
