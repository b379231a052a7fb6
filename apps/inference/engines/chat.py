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

Thinking (Qwen3-style templates: `<think>` and `</think>` are single tokens and the template writes
them, switched by `enable_thinking`): with `think` the answer starts inside an open `<think>\n`
block; the model thinks for at most `thinking_budget` tokens (it may close the block sooner), then
the block is closed as the template writes it (`\n</think>\n\n`) and the answer gets `max_tokens`
of its own. Without `think` the template's no-thinking prompt is used (Qwen3: an empty block). In
the answer the model can generate neither tag, so thinking text never leaks into it; stop strings
apply to the answer only. Thinking tokens count in `completion_tokens`, as OpenAI's reasoning
models count them.
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
DEFAULT_THINKING_BUDGET = 1024
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# The layout Qwen3's template gives a thinking block (its empty one, `<think>\n\n</think>\n\n`,
# and its earlier answers): the tag on its own line, a blank line after the close.
THINK_OPEN_TEXT, THINK_CLOSE_TEXT = "<think>\n", "</think>\n\n"
# The two channels a generation's text comes in.
THINKING, CONTENT = "thinking", "content"


@dataclass(frozen=True)
class ChatOptions:
    """Sampling options of one answer. `temperature` 0 means greedy decoding."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    think: bool = False  # honoured by models whose template has a thinking mode, ignored by others
    thinking_budget: int = DEFAULT_THINKING_BUDGET  # tokens of thinking at most, on top of max_tokens


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0  # thinking and answer tokens
    finish_reason: str = "stop"  # "stop" (end of answer or a stop string), "length" (max_tokens)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Thinking:
    """What the model thought before answering: the text inside its thinking block (tags and the
    newlines around it left out) and the number of tokens it generated there."""

    content: str = ""
    tokens: int = 0


@dataclass(frozen=True)
class ThinkingTags:
    """The token ids of a thinking template's `<think>` and `</think>`."""

    open_id: int
    close_id: int


def thinking_tags(tokenizer: Any) -> ThinkingTags | None:
    """The thinking tags of a tokenizer whose chat template writes `</think>` and whose vocabulary
    has both tags as single tokens (Qwen3, QwQ, DeepSeek-R1 distills); None for other models."""
    template = tokenizer.chat_template
    if not isinstance(template, str) or THINK_CLOSE not in template:
        return None
    ids = []
    for tag in (THINK_OPEN, THINK_CLOSE):
        encoded = tokenizer(tag, add_special_tokens=False)["input_ids"]
        if len(encoded) != 1 or encoded[0] == tokenizer.unk_token_id:
            return None
        ids.append(encoded[0])
    return ThinkingTags(open_id=ids[0], close_id=ids[1])


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
        self.thinking_tags = thinking_tags(self.tokenizer)

    @property
    def memory_bytes(self) -> int:
        return torch_memory_bytes(self.model)

    def close(self) -> None:
        del self.model, self.tokenizer

    def prompt_ids(self, messages: list[dict], *, think: bool = False) -> list[int]:
        """The token ids of `messages` rendered with the model's chat template, ready for the answer.

        For a thinking template, `think` ends the prompt inside an open thinking block (opened here
        when the template leaves it to the model, as Qwen3's does), and no `think` ends it after a
        closed, empty one (the template's `enable_thinking=False`; closed here when the template
        opens a block regardless, as DeepSeek-R1's does)."""
        plain = [{"role": message["role"], "content": text_of(message.get("content"))} for message in messages]
        switch = {"enable_thinking": think} if self.thinking_tags else {}
        try:
            text = self.tokenizer.apply_chat_template(plain, add_generation_prompt=True, tokenize=False, **switch)
        except Exception as error:  # a template that refuses a role order (jinja's raise_exception)
            raise Invalid(f"the model's chat template refused the messages: {error}") from error
        if self.thinking_tags:
            opened = text.rstrip("\n").endswith(THINK_OPEN)
            if think and not opened:
                text += THINK_OPEN_TEXT
            elif not think and opened:
                text = text.rstrip("\n") + "\n\n" + THINK_CLOSE_TEXT
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def chat(
        self, *, messages: list[dict], options: ChatOptions, cancelled: threading.Event | None = None
    ) -> "Generation":
        """Start an answer to `messages`; iterate the result for its text (or `parts()` for its
        thinking too). Invalid (400) when the prompt leaves no room in the model's context; the
        thinking budget and `max_tokens` are cut to the room left."""
        thinking = bool(options.think and self.thinking_tags)
        prompt = self.prompt_ids(messages, think=thinking)
        if self.context_length and len(prompt) >= self.context_length:
            raise Invalid(f"the prompt has {len(prompt)} tokens; the model's context holds {self.context_length}")
        return Generation(self, prompt, options, cancelled or threading.Event(), thinking=thinking)

    def room(self, length: int, wanted: int) -> int:
        """How many of `wanted` new tokens fit in the context after `length` tokens."""
        return max(0, min(wanted, self.context_length - length)) if self.context_length else wanted


@dataclass
class PhaseResult:
    """What one `generate` call of a generation produced: its token ids, its text (cut before the
    stop string that ended it, if one did) and whether a stop string ended it."""

    output: list[int] = field(default_factory=list)
    text: str = ""
    stopped: bool = False


class Generation:
    """One answer: iterating it runs `generate` in a thread and yields the answer's text as it comes;
    `parts()` yields the thinking too, each piece with its channel (THINKING or CONTENT).

    Set `cancelled` (or close the iterator: a client that went away) and generation stops after the
    current token. After the iteration `usage` holds the token counts and the finish reason, and
    `thinking` what the model thought (None unless it was asked to think and can).
    """

    def __init__(
        self,
        engine: ChatEngine,
        prompt: list[int],
        options: ChatOptions,
        cancelled: threading.Event,
        *,
        thinking: bool = False,
    ) -> None:
        self.engine = engine
        self.prompt = prompt
        self.options = options
        self.cancelled = cancelled
        self.usage = Usage(prompt_tokens=len(prompt))
        self.thinking: Thinking | None = Thinking() if thinking else None
        self._error: BaseException | None = None

    def text(self) -> str:
        """The whole answer (runs the generation to its end)."""
        return "".join(self)

    def __iter__(self) -> Iterator[str]:
        for channel, piece in self.parts():
            if channel == CONTENT:
                yield piece

    def parts(self) -> Iterator[tuple[str, str]]:
        """`(channel, text)` pieces: the thinking first (when asked for), then the answer."""
        import torch

        tags = self.engine.thinking_tags
        thought, answer = PhaseResult(), PhaseResult()
        answer_prompt, wanted, thought_through = self.prompt, 0, False
        if self.options.seed is not None:
            torch.manual_seed(self.options.seed)  # the global generator: one generation per model at a time
        try:
            if self.thinking is not None and tags is not None:
                budget = self.engine.room(len(self.prompt), self.options.thinking_budget)
                for piece in self._phase(
                    thought, self.prompt, budget, stops=(THINK_CLOSE,), ends=[tags.close_id], suppressed=[tags.open_id]
                ):
                    yield THINKING, piece
                thinking_ids = self._thinking_ids(thought, tags)
                self.thinking.tokens, thought_through = len(thinking_ids), True
                self.thinking.content = thought.text.strip("\n")
                close = ("" if thought.text.endswith("\n") else "\n") + THINK_CLOSE_TEXT
                answer_prompt = [*self.prompt, *thinking_ids, *self._encode(close)]
            if not self.cancelled.is_set() and self._error is None:
                wanted = self.engine.room(len(answer_prompt), self.options.max_tokens)
                stops = tuple(stop for stop in self.options.stop if stop)
                suppressed = [tags.open_id, tags.close_id] if tags else []  # no tag ever leaks into the answer
                for piece in self._phase(answer, answer_prompt, wanted, stops=stops, suppressed=suppressed):
                    yield CONTENT, piece
        finally:
            self.cancelled.set()
            if self.thinking is not None and tags is not None and not thought_through:  # left while thinking
                self.thinking.tokens = len(self._thinking_ids(thought, tags))
            self._count(answer, wanted)
        if self._error is not None:
            raise LoadFailed(f"generation failed: {type(self._error).__name__}: {self._error}") from self._error

    def _encode(self, text: str) -> list[int]:
        return self.engine.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _thinking_ids(self, thought: PhaseResult, tags: ThinkingTags) -> list[int]:
        """The tokens the model thought, up to (without) the tag or end of text that closed its thinking."""
        ends = {tags.close_id, *self._eos_ids()}
        cut = next((index for index, token in enumerate(thought.output) if token in ends), None)
        if cut is not None:
            return thought.output[:cut]
        if thought.stopped:  # `</think>` spelled in pieces rather than as its token: keep what came before
            return self._encode(thought.text)
        return thought.output

    def _phase(
        self,
        result: PhaseResult,
        prompt: list[int],
        max_new_tokens: int,
        *,
        stops: tuple[str, ...] = (),
        ends: list[int] | None = None,
        suppressed: list[int] | None = None,
    ) -> Iterator[str]:
        """Generate up to `max_new_tokens` after `prompt` (ended early by the model's end of text, a
        token of `ends`, or a stop string), never any token of `suppressed`, in a thread; yield the
        text as it comes, held back while a stop string could be starting and cut before the first
        one. `result` gets the token ids and the text."""
        from transformers import TextIteratorStreamer

        if max_new_tokens <= 0:
            return
        streamer = TextIteratorStreamer(self.engine.tokenizer, skip_prompt=True, skip_special_tokens=True)
        halt = threading.Event()  # a stop string was found: this phase ends, the generation may go on
        thread = threading.Thread(
            target=self._generate,
            args=(streamer, result, prompt, max_new_tokens, halt),
            kwargs={"ends": ends or [], "suppressed": suppressed or []},
            name="generate",
            daemon=True,
        )
        thread.start()
        hold = max((len(stop) for stop in stops), default=1) - 1
        text, sent = "", 0
        finished = False
        try:
            for piece in streamer:
                text += piece
                found = min((index for index in (text.find(stop, sent) for stop in stops) if index >= 0), default=-1)
                if found >= 0:
                    if found > sent:
                        yield text[sent:found]
                    halt.set()
                    text, result.stopped = text[:found], True
                    break
                safe = max(sent, len(text) - hold)
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
            else:
                if len(text) > sent:
                    yield text[sent:]
            finished = True
        finally:
            if not finished:
                self.cancelled.set()  # the caller went away: the thread stops after this token
            thread.join()
            result.text = text

    def _count(self, answer: PhaseResult, max_new_tokens: int) -> None:
        eos = set(self._eos_ids())
        thought = self.thinking.tokens if self.thinking is not None else 0
        self.usage.completion_tokens = thought + len([token for token in answer.output if token not in eos])
        ended = bool(answer.output) and answer.output[-1] in eos
        hit_limit = len(answer.output) >= max_new_tokens and not ended
        self.usage.finish_reason = "length" if hit_limit and not answer.stopped else "stop"

    def _eos_ids(self) -> list[int]:
        eos = self.engine.model.generation_config.eos_token_id
        if eos is None:
            eos = self.engine.tokenizer.eos_token_id
        return [eos] if isinstance(eos, int) else list(eos or [])

    def _generate(
        self,
        streamer: Any,
        result: PhaseResult,
        prompt: list[int],
        max_new_tokens: int,
        halt: threading.Event,
        *,
        ends: list[int],
        suppressed: list[int],
    ) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        cancelled = self.cancelled

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return cancelled.is_set() or halt.is_set()

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
        if suppressed:
            sampling["suppress_tokens"] = suppressed
        if ends:
            sampling["eos_token_id"] = [*eos, *ends]
        pad = self.engine.tokenizer.pad_token_id
        try:
            input_ids = torch.tensor([prompt])
            with torch.inference_mode():
                output = self.engine.model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=max_new_tokens,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([Cancelled()]),
                    pad_token_id=pad if pad is not None else (eos[0] if eos else 0),
                    **sampling,
                )
            result.output = output[0][len(prompt) :].tolist()
        except BaseException as error:  # noqa: BLE001  (re-raised in the iterating thread)
            self._error = error
            streamer.end()
