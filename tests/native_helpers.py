"""Helpers shared by the native-model tests: padded batches, independent reference implementations written from the
published semantics (loops over heads, -10000 masking), and a LoRA train/save/reload round trip."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from hubtune.models.dnabert2 import Dnabert2Config
from hubtune.models.ntv2 import NTv2Config


def padded_batch(vocab: int, lengths: list[int], *, pad_id: int, seed: int = 0, first: int = 1, low: int = 5):
    """Random ids (first token = CLS-like `first`), right-padded with `pad_id`, plus the attention mask."""
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.full((len(lengths), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(lengths), width), dtype=torch.long)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(low, vocab, (length,), generator=generator)
        ids[row, 0] = first
        mask[row, :length] = 1
    return ids, mask


def _layer_norm(state: dict, config, x: torch.Tensor, name: str) -> torch.Tensor:
    weight, bias = state[f"{name}.weight"], state[f"{name}.bias"]
    return F.layer_norm(x, (config.hidden_size,), weight, bias, eps=config.layer_norm_eps)


def _linear(state: dict, x: torch.Tensor, name: str, bias: bool = True) -> torch.Tensor:
    out = x @ state[f"{name}.weight"].T
    return out + state[f"{name}.bias"] if bias else out


def reference_dnabert2(state: dict, config: Dnabert2Config, slopes: list[float], ids, mask) -> torch.Tensor:
    """softmax(QK^T/sqrt(d) - slope_h*|i-j| + mask)V per head, post-LN blocks, GEGLU; returns the last hidden state."""
    hidden, heads = config.hidden_size, config.num_attention_heads
    head_dim, inter = hidden // heads, config.intermediate_size
    ln, linear = partial(_layer_norm, state, config), partial(_linear, state)

    x = state["bert.embeddings.word_embeddings.weight"][ids] + state["bert.embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "bert.embeddings.LayerNorm")
    positions = torch.arange(ids.shape[1], dtype=torch.float32)
    distance = (positions[None, :] - positions[:, None]).abs()
    key_mask = (1.0 - mask.float())[:, None, :] * -10000.0
    for n in range(config.num_hidden_layers):
        prefix = f"bert.encoder.layer.{n}."
        qkv = linear(x, prefix + "attention.self.Wqkv")
        outputs = []
        for h in range(heads):
            q = qkv[..., h * head_dim : (h + 1) * head_dim]
            k = qkv[..., hidden + h * head_dim : hidden + (h + 1) * head_dim]
            v = qkv[..., 2 * hidden + h * head_dim : 2 * hidden + (h + 1) * head_dim]
            scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim) - slopes[h] * distance + key_mask
            outputs.append(scores.softmax(-1) @ v)
        attended = torch.cat(outputs, dim=-1)
        x = ln(linear(attended, prefix + "attention.output.dense") + x, prefix + "attention.output.LayerNorm")
        gated = linear(x, prefix + "mlp.gated_layers", bias=False)
        mlp = linear(F.gelu(gated[..., :inter]) * gated[..., inter:], prefix + "mlp.wo")
        x = ln(mlp + x, prefix + "mlp.layernorm")
    return x


def reference_ntv2(state: dict, config: NTv2Config, ids, mask) -> torch.Tensor:
    """Pre-LN ESM blocks with rotary q/k (q scaled first), SwiGLU without bias, emb_layer_norm_after."""
    hidden, heads = config.hidden_size, config.num_attention_heads
    head_dim = hidden // heads
    ln, linear = partial(_layer_norm, state, config), partial(_linear, state)

    def rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin

    x = state["esm.embeddings.word_embeddings.weight"][ids] * mask[..., None]
    inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
    angles = torch.outer(torch.arange(ids.shape[1]).float(), inv_freq)
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    key_mask = (1.0 - mask.float())[:, None, :] * -10000.0
    for n in range(config.num_hidden_layers):
        prefix = f"esm.encoder.layer.{n}."
        normed = ln(x, prefix + "attention.LayerNorm")
        q_all, k_all = linear(normed, prefix + "attention.self.query"), linear(normed, prefix + "attention.self.key")
        v_all = linear(normed, prefix + "attention.self.value")
        outputs = []
        for h in range(heads):
            part = slice(h * head_dim, (h + 1) * head_dim)
            q = rotate(q_all[..., part] * head_dim**-0.5, cos, sin)
            k = rotate(k_all[..., part], cos, sin)
            outputs.append((q @ k.transpose(-1, -2) + key_mask).softmax(-1) @ v_all[..., part])
        x = linear(torch.cat(outputs, -1), prefix + "attention.output.dense") + x
        gate, up = linear(ln(x, prefix + "LayerNorm"), prefix + "intermediate.dense", bias=False).chunk(2, dim=-1)
        x = linear(F.silu(gate) * up, prefix + "output.dense", bias=False) + x
    return ln(x, "esm.encoder.emb_layer_norm_after")


def check_lora_round_trip(
    loader, path: Path, targets: list[str], adapter_dir: Path, *, pad_id: int, expected_names: tuple[str, ...]
) -> dict:
    """Train a LoRA adapter on the model `loader` builds from `path`, save it, reload it onto a fresh base model and
    check that the saved adapter holds `expected_names` and the reloaded model gives exactly the trained logits.
    Returns the saved adapter tensors."""
    from peft import LoraConfig, PeftModel, TaskType, get_peft_model

    model = loader(path, num_labels=2)
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, lora_dropout=0.0, target_modules=targets,
        modules_to_save=["classifier"],
    )  # fmt: skip
    peft_model = get_peft_model(model, lora)
    ids, mask = padded_batch(model.config.vocab_size, [16, 11, 16, 7], pad_id=pad_id, first=1 if pad_id == 3 else 3)
    labels = torch.tensor([0, 1, 0, 1])
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-2)
    peft_model.train()
    for _ in range(3):
        peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    peft_model.eval()
    with torch.no_grad():
        trained = peft_model(input_ids=ids, attention_mask=mask).logits
    peft_model.save_pretrained(adapter_dir)
    saved = load_file(adapter_dir / "adapter_model.safetensors")
    reloaded = PeftModel.from_pretrained(loader(path, num_labels=2), adapter_dir).eval()
    with torch.no_grad():
        again = reloaded(input_ids=ids, attention_mask=mask).logits
    for name in expected_names:
        assert name in saved, name
    assert torch.equal(trained, again)
    return saved


def gradients(model) -> dict[str, torch.Tensor]:
    """Every parameter gradient of `model` (cloned), by name; then the gradients are cleared."""
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads


def check_padding_free_matches_padded(
    model, lengths: list[int], *, pad_id: int, first: int, extra_columns: int = 6, seed: int = 0
) -> None:
    """On a batch of very different `lengths`, right-padded `extra_columns` past the longest row, the padding-free
    path (the default) gives the padded computation's logits, hidden states and parameter gradients, and so does
    every sequence run alone without padding, to 1e-5 (fp32). Padded positions of every hidden state are 0."""
    from hubtune.models.unpad import is_padding_free, set_padding_free

    ids, mask = padded_batch(model.config.vocab_size, lengths, pad_id=pad_id, first=first, seed=seed)
    ids, mask = F.pad(ids, (0, extra_columns), value=pad_id), F.pad(mask, (0, extra_columns))
    labels = torch.arange(len(lengths)) % model.config.num_labels
    model.eval()  # dropout off; gradients still flow

    def run(padding_free: bool, ids, mask, labels):
        set_padding_free(model, padding_free)
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        F.cross_entropy(out.logits, labels, reduction="sum").backward()
        return out, gradients(model)

    assert is_padding_free(model)
    free, free_grads = run(True, ids, mask, labels)
    padded, padded_grads = run(False, ids, mask, labels)
    alone_logits, alone_grads = [], {}
    for row, length in enumerate(lengths):
        out, grads = run(True, ids[row : row + 1, :length], None, labels[row : row + 1])
        alone_logits.append(out.logits)
        for layer, hidden in zip(free.hidden_states, out.hidden_states, strict=True):
            torch.testing.assert_close(layer[row, :length], hidden[0], atol=1e-5, rtol=1e-5)
        alone_grads = {name: alone_grads.get(name, 0) + grad for name, grad in grads.items()}
    set_padding_free(model, True)

    close = partial(torch.testing.assert_close, atol=1e-5, rtol=1e-5)
    close(free.logits, padded.logits)
    close(free.logits, torch.cat(alone_logits))
    assert len(free.hidden_states) == len(padded.hidden_states) == model.config.num_hidden_layers + 1
    for a, b in zip(free.hidden_states, padded.hidden_states, strict=True):
        assert a.shape == ids.shape + (model.config.hidden_size,)
        close(a, b)
        assert torch.all(a[~mask.bool()] == 0)
    assert free_grads.keys() == padded_grads.keys() == alone_grads.keys() and len(free_grads) > 10
    for name, grad in free_grads.items():
        close(grad, padded_grads[name], msg=lambda m, name=name: f"{name}: {m}")
        close(grad, alone_grads[name], msg=lambda m, name=name: f"{name}: {m}")


def rows_seen_by(model, module_names: tuple[str, ...], ids, mask) -> dict[str, set[int]]:
    """The numbers of rows (tokens) each linear layer whose name ends with one of `module_names` received."""
    seen: dict[str, set[int]] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(module_names):
            key = name.rsplit(".", 1)[-1]

            def hook(_module, inputs, _output, key=key):
                seen.setdefault(key, set()).add(inputs[0].reshape(-1, inputs[0].shape[-1]).shape[0])

            hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(input_ids=ids, attention_mask=mask)
    finally:
        for handle in hooks:
            handle.remove()
    return seen
