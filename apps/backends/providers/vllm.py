"""vLLM: an OpenAI-compatible server with a few specifics of its own.

- `/v1/models` items carry `max_model_len` (the context length it was started with), `root`
  (the weights it serves) and `parent` (set for a LoRA adapter: the base model's name);
- it takes its extra sampling parameters (top_k, min_p, repetition_penalty…) in the request body;
- `GET /health` (outside /v1) answers 200 while the engine is alive;
- thinking is switched by the chat template (`chat_template_kwargs: {"enable_thinking": …}`, Qwen3's
  and most reasoning templates' switch) and answered in `reasoning_content` when vLLM runs with a
  reasoning parser; vLLM has no thinking budget, so `thinking_budget` is dropped.
"""

from apps.backends.providers.openai import CHAT_OPTIONS, OpenAIProvider

# vLLM's sampling parameters beyond OpenAI's, accepted at the top level of a chat request.
VLLM_CHAT_OPTIONS = frozenset(
    {
        "top_k",
        "min_p",
        "repetition_penalty",
        "length_penalty",
        "min_tokens",
        "ignore_eos",
        "skip_special_tokens",
        "include_stop_str_in_output",
        "stop_token_ids",
        "truncate_prompt_tokens",
        "guided_json",
        "guided_regex",
        "guided_choice",
        "guided_grammar",
    }
)


class VLLMProvider(OpenAIProvider):
    """A vLLM server (`vllm serve`)."""

    type = "vllm"
    chat_options = CHAT_OPTIONS | VLLM_CHAT_OPTIONS

    def _chat_body(self, model: str, messages: list[dict], options: dict | None) -> dict:
        body = super()._chat_body(model, messages, options)
        think = (options or {}).get("think")
        if think is not None:
            body["chat_template_kwargs"] = {"enable_thinking": bool(think)}
        return body

    def context_length(self, item: dict) -> int | None:
        value = item.get("max_model_len")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return super().context_length(item)

    async def health(self) -> bool:
        """True when vLLM's engine is alive; raises ProviderUnavailable when it is not."""
        await self.http.request("GET", f"{self.base_url.removesuffix('/v1')}/health")
        return True
