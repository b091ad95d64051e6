"""The optional LLM judge for error attribution, as the paper does it (off by default).

The judge-free methods in `seethink.eval.attribution` need facts or a gold caption. For data with neither,
or to compare with the paper's protocol, a judge model reads the question, the gold answer, the gold
description when there is one, the wrong answer and (if it is multimodal) the image, and names the cause:
PERCEPTION or REASONING.

The judge is a tool model from `seethink.models.chat` (an OpenAI-compatible endpoint or a local HF folder), asked
greedily for a one-word reply; verdicts are cached there (a rerun never pays for a verdict twice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from seethink.models.chat import ChatModel, LocalChat, OpenAIChat, ReplyCache, make_chat
from seethink.models.chat import cached as _cached

PROMPT_VERSION = 1  # part of every cache key: changing the prompt invalidates old verdicts

INSTRUCTIONS = """\
A vision-language model answered a question about an image, and its answer is wrong.
Decide the main cause of the error:
PERCEPTION - it misread the image: it missed, miscounted or misidentified objects, colours, shapes, sizes,
positions, or text and numbers shown in the image.
REASONING - it read the image correctly but made a mistake in logic, arithmetic or in following the question.
Reply with one word: PERCEPTION or REASONING."""


@dataclass(frozen=True)
class JudgeRequest:
    question: str
    gold: str
    completion: str
    caption: str | None = None
    image: str | None = None  # a path; sent only to judges that see images

    def text(self) -> str:
        parts = [INSTRUCTIONS, f"Question:\n{self.question}", f"Correct answer: {self.gold}"]
        if self.caption:
            parts.append(f"Ground-truth description of the image:\n{self.caption}")
        parts.append(f"The model's wrong answer:\n{self.completion}")
        return "\n\n".join(parts)


def request_for(record: dict, completion: str) -> JudgeRequest:
    images = record.get("images") or []
    return JudgeRequest(
        record["problem"], str(record["answer"]), completion, record.get("caption"), images[0] if images else None
    )


_WORD = re.compile(r"\b(perception|reasoning)\b", re.IGNORECASE)


def parse_verdict(reply: str) -> str | None:
    """'perception' or 'reasoning' if the reply commits to one, else None.

    A reply that starts with one of the two words means it; otherwise exactly one of them must occur
    ("not a reasoning error but a perception error" names both and stays undecided)."""
    found = [m.lower() for m in _WORD.findall(reply or "")]
    if not found:
        return None
    if (reply or "").lstrip(" *`'\"\n").lower().startswith(found[0]):
        return found[0]
    return found[0] if len(set(found)) == 1 else None


Judge = ChatModel
MAX_TOKENS = 16  # the judge's backends are the generic tool models, asked for a few tokens


class OpenAIJudge(OpenAIChat):
    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", sees_images: bool = True, **kw):
        super().__init__(base_url, model, api_key_env, sees_images, **{"max_tokens": MAX_TOKENS, "role": "judge", **kw})


class LocalJudge(LocalChat):
    def __init__(self, path: str | Path, max_new_tokens: int = MAX_TOKENS, batch_size: int = 8):
        super().__init__(path, max_new_tokens, batch_size, role="judge")


def make_judge(
    spec: str, model: str | None = None, api_key_env: str = "OPENAI_API_KEY", sees_images: bool = True
) -> Judge:
    """`spec` is an http(s) URL of an OpenAI-compatible API (then `model` names the model) or a local folder."""
    return make_chat(spec, model, api_key_env, sees_images, MAX_TOKENS, role="judge", flag="--judge-model")


class VerdictCache(ReplyCache):
    def __init__(self, path: str | Path):
        super().__init__(path, namespace=PROMPT_VERSION)


def cached(judge: Judge, cache: ReplyCache, chunk: int = 32):
    """Wrap a judge: cached verdicts are reused; new ones are asked `chunk` at a time and saved at once."""
    return _cached(judge, cache, chunk, label="judging wrong answers")
