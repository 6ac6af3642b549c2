"""Text from a trained model: completions of prompts by the exported Hugging Face model (``transformers``).

Greedy decoding when one completion is asked for, else ``samples`` completions drawn with temperature and
nucleus sampling from a seeded generator, so a rerun gives the same completions on the same device. A
completion ends at the first stop sequence (for HumanEval, the start of the next top-level statement), the
end-of-text token, or ``max_new_tokens``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from mixer.errors import MissingDependency


class Generator:
    """A model folder written by ``mixer export-hf`` (weights, config, tokenizer), loaded for generation."""

    def __init__(self, model_dir: Path, device: str | None = None):
        try:
            import torch
            from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
        except ModuleNotFoundError as e:
            raise MissingDependency(
                e.name or "transformers", "generating with the model", extra="eval"
            ) from None
        self.torch = torch
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(self.device).eval()
        self.tokenizer = PreTrainedTokenizerFast.from_pretrained(model_dir)
        self.eos_id = self.tokenizer.eos_token_id
        # the key-value cache's argument: `cache` from transformers 5.x, `past_key_values` before
        params = inspect.signature(self.model.forward).parameters
        self.cache_argument = "cache" if "cache" in params else "past_key_values"

    def complete(
        self,
        prompt: str,
        *,
        samples: int = 1,
        temperature: float = 0.8,
        top_p: float = 0.95,
        max_new_tokens: int = 256,
        stop: tuple[str, ...] = (),
        seed: int = 0,
    ) -> list[str]:
        torch = self.torch
        ids = self.tokenizer(prompt, return_tensors="pt").input_ids.to(self.device)
        if ids.shape[1] == 0:  # an empty prompt starts after an end of text, as every document does
            ids = torch.tensor([[self.eos_id]], device=self.device)
        greedy = samples == 1
        generator = torch.Generator(device=self.device).manual_seed(seed)
        out = []
        with torch.no_grad():
            for _ in range(samples):
                generated: list[int] = []
                step, past = ids, None
                for _ in range(max_new_tokens):
                    result = self.model(step, **{self.cache_argument: past}, use_cache=True)
                    past, logits = result.past_key_values, result.logits[0, -1].float()
                    nxt = (
                        int(logits.argmax())
                        if greedy
                        else _sample(torch, logits, temperature, top_p, generator)
                    )
                    if nxt == self.eos_id:
                        break
                    generated.append(nxt)
                    if stop and any(s in self.tokenizer.decode(generated) for s in stop):
                        break
                    step = torch.tensor([[nxt]], device=self.device)
                out.append(truncate(self.tokenizer.decode(generated), stop))
        return out


def _sample(torch, logits, temperature: float, top_p: float, generator) -> int:
    if temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / temperature, dim=-1)
    ordered, index = torch.sort(probs, descending=True)
    keep = torch.cumsum(ordered, dim=-1) - ordered < top_p  # the smallest set holding top_p of the mass
    ordered = ordered * keep
    choice = torch.multinomial(ordered / ordered.sum(), 1, generator=generator)
    return int(index[choice])


def truncate(text: str, stop: tuple[str, ...]) -> str:
    """``text`` up to the first stop sequence."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
    return text[:cut]
