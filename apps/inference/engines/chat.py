"""Chat: a transformers causal LM with its chat template, streamed through `TextIteratorStreamer`.

A folder with a `config.json` loads as it is. A folder of GGUF files (llama.cpp's format) loads
through transformers' GGUF support (the `gguf` package), which dequantises the weights to fp32;
that takes ~12 s for a 135M model, so the converted model is saved once beside the GGUF file, in
the model's hidden `.modelyard/converted/<file stem>/` folder (hidden folders are not the model's
files for the store, and go with it when it is deleted), and later loads read that (~0.3 s).

Sampling follows OpenAI's parameters: `temperature` 0 is greedy decoding, `top_p`, `top_k`
(llama.cpp's and vLLM's extension), `max_tokens`, `stop` strings (never part of the answer, held
back while they could still be starting), `seed` (torch's global generator, set under the model's
lock: one generation per model at a time). Usage is counted in the model's own tokens.
"""

import logging
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.core.errors import Invalid
from apps.inference.engines.base import CHAT, LoadFailed, text_of, torch_memory_bytes

logger = logging.getLogger(__name__)

CONVERTED_DIR = Path(".modelyard") / "converted"


@dataclass(frozen=True)
class ChatOptions:
    """Sampling options of one answer. `temperature` 0 means greedy decoding."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "stop" (end of answer or a stop string), "length" (max_tokens)
    extra: dict[str, Any] = field(default_factory=dict)


def gguf_files(files: list[str]) -> list[str]:
    """The loadable GGUF files of a folder, smallest quantization label first is not guessed: sorted by name."""
    return sorted(name for name in files if name.lower().endswith(".gguf"))


def gguf_converted(folder: Path, gguf_name: str) -> Path:
    """The folder of `folder/gguf_name` converted to a plain transformers model, made on first use.

    Written to a `.partial` folder and renamed when complete, so a crash never leaves half a model.
    Raises LoadFailed when transformers cannot read the file.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = folder / CONVERTED_DIR / Path(gguf_name).stem
    if (target / "config.json").is_file():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    logger.info("converting %s to a transformers model (once; kept in %s)", folder / gguf_name, target)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_name)
        quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_name, dtype=torch.float32)
    except Exception as error:
        raise LoadFailed(f"transformers' GGUF support cannot read {gguf_name} ({error})") from error
    # A model loaded from GGUF keeps a quantization config that save_pretrained refuses: rebuild
    # the same architecture without it and move the dequantised weights over.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict())
    plain.generation_config = quantized.generation_config
    plain.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    os.replace(partial, target)
    return target


class ChatEngine:
    """A causal LM and its tokenizer, loaded on CPU in fp32."""

    kind = CHAT

    def __init__(self, *, folder: Path, files: list[str]) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        weights = folder
        if "config.json" not in files:
            ggufs = gguf_files(files)
            if not ggufs:
                raise LoadFailed("neither a config.json nor a .gguf file to load")
            weights = gguf_converted(folder, ggufs[0])
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(weights)
            self.model = AutoModelForCausalLM.from_pretrained(weights, dtype=torch.float32)
        except Exception as error:
            raise LoadFailed(f"not loadable as a causal language model ({error})") from error
        self.model.eval()
        if not self.tokenizer.chat_template:
            raise LoadFailed("its tokenizer has no chat template: it is not a chat model")
        self.context_length = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)

    @property
    def memory_bytes(self) -> int:
        return torch_memory_bytes(self.model)

    def close(self) -> None:
        del self.model, self.tokenizer

    def prompt_ids(self, messages: list[dict]) -> list[int]:
        """The token ids of `messages` rendered with the model's chat template, ready for the answer."""
        plain = [{"role": message["role"], "content": text_of(message.get("content"))} for message in messages]
        try:
            text = self.tokenizer.apply_chat_template(plain, add_generation_prompt=True, tokenize=False)
        except Exception as error:  # a template that refuses a role order (jinja's raise_exception)
            raise Invalid(f"the model's chat template refused the messages: {error}") from error
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def chat(
        self, *, messages: list[dict], options: ChatOptions, cancelled: threading.Event | None = None
    ) -> "Generation":
        """Start an answer to `messages`; iterate the result for its text. Invalid (400) when the
        prompt leaves no room in the model's context; `max_tokens` is cut to the room left."""
        prompt = self.prompt_ids(messages)
        room = self.context_length - len(prompt) if self.context_length else options.max_tokens
        if room <= 0:
            raise Invalid(f"the prompt has {len(prompt)} tokens; the model's context holds {self.context_length}")
        return Generation(
            self, prompt, options, cancelled or threading.Event(), max_new_tokens=min(room, options.max_tokens)
        )


class Generation:
    """One answer: iterating it runs `generate` in a thread and yields the text as it comes.

    Set `cancelled` (or close the iterator: a client that went away) and generation stops after the
    current token. After the iteration `usage` holds the token counts and the finish reason.
    """

    def __init__(
        self,
        engine: ChatEngine,
        prompt: list[int],
        options: ChatOptions,
        cancelled: threading.Event,
        *,
        max_new_tokens: int,
    ) -> None:
        self.engine = engine
        self.prompt = prompt
        self.options = options
        self.cancelled = cancelled
        self.max_new_tokens = max_new_tokens
        self.usage = Usage(prompt_tokens=len(prompt))
        self._output: list[int] = []
        self._error: BaseException | None = None

    def text(self) -> str:
        """The whole answer (runs the generation to its end)."""
        return "".join(self)

    def __iter__(self) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        tokenizer = self.engine.tokenizer
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        thread = threading.Thread(target=self._generate, args=(streamer,), name="generate", daemon=True)
        thread.start()
        stops = tuple(stop for stop in self.options.stop if stop)
        hold = max((len(stop) for stop in stops), default=1) - 1
        text, sent = "", 0
        stopped = False
        try:
            for piece in streamer:
                text += piece
                found = min((index for index in (text.find(stop, sent) for stop in stops) if index >= 0), default=-1)
                if found >= 0:
                    if found > sent:
                        yield text[sent:found]
                    stopped = True
                    self.cancelled.set()
                    break
                safe = max(sent, len(text) - hold)
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
            else:
                if len(text) > sent:
                    yield text[sent:]
        finally:
            self.cancelled.set()  # a stop string, or the caller went away: the thread stops after this token
            thread.join()
            self._count(stopped=stopped)
        if self._error is not None:
            raise LoadFailed(f"generation failed: {type(self._error).__name__}: {self._error}") from self._error

    def _count(self, *, stopped: bool) -> None:
        eos = set(self._eos_ids())
        self.usage.completion_tokens = len([token for token in self._output if token not in eos])
        hit_limit = len(self._output) >= self.max_new_tokens and not (self._output and self._output[-1] in eos)
        self.usage.finish_reason = "length" if hit_limit and not stopped else "stop"

    def _eos_ids(self) -> list[int]:
        eos = self.engine.model.generation_config.eos_token_id
        if eos is None:
            eos = self.engine.tokenizer.eos_token_id
        return [eos] if isinstance(eos, int) else list(eos or [])

    def _generate(self, streamer: Any) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        cancelled = self.cancelled

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return cancelled.is_set()

        options = self.options
        sampling: dict[str, Any] = {"do_sample": False}
        if options.temperature > 0:
            sampling = {
                "do_sample": True,
                "temperature": float(options.temperature),
                "top_p": float(options.top_p or 1.0),
            }
            sampling["top_k"] = options.top_k if options.top_k is not None else 0  # OpenAI's default: no top-k
        else:  # greedy: the model's sampling defaults must not warn or apply
            sampling.update(temperature=None, top_p=None, top_k=None)
        eos = self._eos_ids()
        pad = self.engine.tokenizer.pad_token_id
        try:
            if options.seed is not None:
                torch.manual_seed(options.seed)
            input_ids = torch.tensor([self.prompt])
            with torch.inference_mode():
                output = self.engine.model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=self.max_new_tokens,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([Cancelled()]),
                    pad_token_id=pad if pad is not None else (eos[0] if eos else 0),
                    **sampling,
                )
            self._output = output[0][len(self.prompt) :].tolist()
        except BaseException as error:  # noqa: BLE001  (re-raised in the iterating thread)
            self._error = error
            streamer.end()
