"""The optional LLM judge for error attribution, as the paper does it (off by default).

The judge-free methods in `seethink.eval.attribution` need facts or a gold caption. For data with neither,
or to compare with the paper's protocol, a judge model reads the question, the gold answer, the gold
description when there is one, the wrong answer and (if it is multimodal) the image, and names the cause:
PERCEPTION or REASONING.

Two backends, both behind one call `judge(requests) -> raw replies`:

    OpenAIJudge   any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, llama.cpp, Ollama …), over plain
                  HTTP with the standard library; several requests in flight; retries on 429/5xx.
    LocalJudge    a local Hugging Face folder: a VLM (sees the image) or a text-only causal LM.

Verdicts are cached in an append-only JSONL file keyed by the judge's identity and the exact request, so a
rerun (or an interrupted run) never pays for a verdict twice; a torn last line is ignored on reading.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from seethink.errors import SeethinkError

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
    return JudgeRequest(record["problem"], str(record["answer"]), completion, record.get("caption"),
                        images[0] if images else None)


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


class Judge(Protocol):
    identity: str
    sees_images: bool

    def __call__(self, requests: list[JudgeRequest]) -> list[str]: ...


# ---------------------------------------------------------------- backends

def _data_url(path: str) -> str:
    from seethink.data.io import load_image

    buf = io.BytesIO()
    load_image(path).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


class OpenAIJudge:
    """POST {base_url}/chat/completions, temperature 0. The API key comes from the environment variable
    `api_key_env` (none needed for local servers)."""

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", sees_images: bool = True,
                 max_tokens: int = 16, timeout: float = 120.0, retries: int = 4, concurrency: int = 8):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.sees_images = model, sees_images
        self.key = os.environ.get(api_key_env, "")
        self.max_tokens, self.timeout, self.retries, self.concurrency = max_tokens, timeout, retries, concurrency
        self.identity = f"openai:{self.url}:{model}:{'image' if sees_images else 'text'}"

    def _body(self, req: JudgeRequest) -> bytes:
        content: list[dict] = [{"type": "text", "text": req.text()}]
        if self.sees_images and req.image:
            content.insert(0, {"type": "image_url", "image_url": {"url": _data_url(req.image)}})
        return json.dumps({"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                           "messages": [{"role": "user", "content": content}]}).encode()

    def ask(self, req: JudgeRequest) -> str:
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {self.key}"} if self.key else {})}
        body = self._body(req)
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(urllib.request.Request(self.url, body, headers), timeout=self.timeout) as r:
                    payload = r.read()
                break
            except urllib.error.HTTPError as e:
                if e.code not in (408, 429, 500, 502, 503, 504) or attempt == self.retries:
                    raise SeethinkError(f"judge {self.url}: HTTP {e.code} {e.reason}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                if attempt == self.retries:
                    raise SeethinkError(f"judge {self.url}: {getattr(e, 'reason', e)}") from None
            time.sleep(min(2 ** attempt, 30))
        try:
            return json.loads(payload)["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise SeethinkError(f"judge {self.url}: reply is not an OpenAI chat completion: {payload[:200]!r}") from None

    def __call__(self, requests: list[JudgeRequest]) -> list[str]:
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(self.ask, requests))


class LocalJudge:
    """A local Hugging Face folder, greedy. A VLM (a folder with a multimodal processor) sees the image; a
    text-only causal LM gets the text. Prompts without a chat template are used as plain text."""

    def __init__(self, path: str | Path, max_new_tokens: int = 16, batch_size: int = 8):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from seethink.models.load import check_model_dir, load_processor, load_weights

        p = check_model_dir(path)
        self.identity = f"local:{p.resolve()}"
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        try:
            self.processor = load_processor(p)  # only a folder with a multimodal processor is a VLM
        except SeethinkError:
            self.processor = None
        self.sees_images = self.processor is not None
        if self.sees_images:
            self.model = load_weights(p)
            self.tokenizer = self.processor.tokenizer
        else:
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(p, local_files_only=True)
                self.model = AutoModelForCausalLM.from_pretrained(p, local_files_only=True, dtype=torch.float32).eval()
            except (OSError, ValueError, KeyError) as e:
                raise SeethinkError(f"judge {p}: not a loadable VLM or causal LM ({str(e).splitlines()[0]})") from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _prompt(self, req: JudgeRequest) -> str:
        if self.processor is None:
            content = req.text()
        else:
            content = ([{"type": "image"}] if self.sees_images and req.image else []) + [{"type": "text", "text": req.text()}]
        template = self.processor or self.tokenizer
        if getattr(template, "chat_template", None):
            return template.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                                tokenize=False)
        return req.text() + "\n"

    def __call__(self, requests: list[JudgeRequest]) -> list[str]:
        import torch

        from seethink.data.io import load_image

        out = []
        for start in range(0, len(requests), self.batch_size):
            batch = requests[start: start + self.batch_size]
            texts = [self._prompt(r) for r in batch]
            if self.processor is not None:
                images = [load_image(r.image) for r in batch if r.image and self.sees_images]
                enc = self.processor(text=texts, padding=True, return_tensors="pt", **({"images": images} if images else {}))
            else:
                enc = self.tokenizer(texts, padding=True, return_tensors="pt")
            with torch.inference_mode():
                gen = self.model.generate(**enc.to(self.model.device), max_new_tokens=self.max_new_tokens,
                                          do_sample=False, pad_token_id=self.tokenizer.pad_token_id)
            out += self.tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        return out


def make_judge(spec: str, model: str | None = None, api_key_env: str = "OPENAI_API_KEY",
               sees_images: bool = True) -> Judge:
    """`spec` is an http(s) URL of an OpenAI-compatible API (then `model` names the model) or a local folder."""
    if re.match(r"https?://", spec):
        if not model:
            raise SeethinkError(f"judge {spec}: an endpoint needs --judge-model (the model name it serves)")
        return OpenAIJudge(spec, model, api_key_env, sees_images)
    if model:
        raise SeethinkError(f"--judge-model is only for endpoints; {spec} is a local folder")
    judge = LocalJudge(spec)
    judge.sees_images = judge.sees_images and sees_images
    return judge


# ---------------------------------------------------------------- cache

class VerdictCache:
    """Append-only JSONL of {"key", "reply"}; each reply is on disk before the next request is judged."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.replies: dict[str, str] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.replies[row["key"]] = row["reply"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line torn by a kill, or foreign content: judged again
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(identity: str, req: JudgeRequest) -> str:
        image = hashlib.sha256(Path(req.image).read_bytes()).hexdigest() if req.image else ""
        blob = json.dumps([PROMPT_VERSION, identity, req.text(), image])
        return hashlib.sha256(blob.encode()).hexdigest()

    def add(self, key: str, reply: str) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "reply": reply}, ensure_ascii=False) + "\n")
        self.replies[key] = reply


def cached(judge: Judge, cache: VerdictCache, chunk: int = 32) -> Callable[[list[JudgeRequest]], list[str]]:
    """Wrap a judge: cached replies are reused; new ones are asked `chunk` at a time and saved at once."""

    def ask(requests: list[JudgeRequest]) -> list[str]:
        from seethink.progress import progress_bar

        keys = [cache.key(judge.identity, r if judge.sees_images else _textual(r)) for r in requests]
        todo = [i for i, k in enumerate(keys) if k not in cache.replies]
        with progress_bar() as progress:
            task = progress.add_task("judging wrong answers", total=len(todo))
            for start in range(0, len(todo), chunk):
                idx = todo[start: start + chunk]
                for i, reply in zip(idx, judge([requests[i] for i in idx])):
                    cache.add(keys[i], reply)
                progress.advance(task, len(idx))
        return [cache.replies[k] for k in keys]

    return ask


def _textual(req: JudgeRequest) -> JudgeRequest:
    """The request as a text-only judge receives it (the image does not enter its cache key)."""
    return JudgeRequest(req.question, req.gold, req.completion, req.caption, None)
