"""Chat models used as tools: the attribution judge, the MCQ generator, the filter models.

A tool model turns prompts (text, optionally one image) into replies, `model(prompts) -> list[str]`, greedy.
Two backends:

    OpenAIChat   any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, llama.cpp, Ollama …), over plain
                 HTTP with the standard library; several requests in flight; deadlines, retries and backoff
                 (`seethink.models.endpoint`).
    LocalChat    a local Hugging Face folder: a VLM (sees the image) or a text-only causal LM.

Replies are cached in an append-only JSONL file keyed by the model's identity and the exact prompt, so a rerun
(or an interrupted run) never asks a question twice; a torn last line is ignored on reading.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from seethink.errors import SeethinkError
from seethink.models.endpoint import Policy, Stats, post_json
from seethink.models.generate import image_kwargs, new_tokens
from seethink.models.load import check_model_dir, load_processor, load_weights
from seethink.progress import progress_bar
from seethink.records.io import load_image


class Asking(Protocol):
    """What a tool model is asked: the prompt text and an optional image path."""

    image: str | None

    def text(self) -> str: ...


@dataclass(frozen=True)
class Prompt:
    body: str
    image: str | None = None

    def text(self) -> str:
        return self.body


class ChatModel(Protocol):
    identity: str
    sees_images: bool

    def __call__(self, prompts: list[Asking]) -> list[str]: ...


def _data_url(path: str) -> str:
    buf = io.BytesIO()
    load_image(path).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def reply_text(content) -> str:
    """A chat completion's `content`: a string, null (no text), or a list of content parts whose `text` parts are
    joined. Anything else (an object, a number) raises ValueError, so it is never cached as a reply."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        texts = [p.get("text") for p in content if p.get("type", "text") == "text"]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    raise ValueError("content is not text")


class OpenAIChat:
    """POST {base_url}/chat/completions, temperature 0. The API key comes from the environment variable
    `api_key_env` (none needed for local servers). `role` names the tool in error messages. Timeouts, retries
    and backoff: `seethink.models.endpoint` (`policy` defaults to the SEETHINK_ENDPOINT_* variables)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        sees_images: bool = True,
        max_tokens: int = 16,
        concurrency: int = 8,
        role: str = "model",
        policy: Policy | None = None,
    ):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.sees_images, self.role = model, sees_images, role
        self.key = os.environ.get(api_key_env, "")
        self.max_tokens, self.concurrency = max_tokens, concurrency
        self.policy, self.stats = policy or Policy.from_env(), Stats()
        self.identity = f"openai:{self.url}:{model}:{'image' if sees_images else 'text'}"

    def _body(self, prompt: Asking) -> bytes:
        content: list[dict] = [{"type": "text", "text": prompt.text()}]
        if self.sees_images and prompt.image:
            content.insert(0, {"type": "image_url", "image_url": {"url": _data_url(prompt.image)}})
        return json.dumps(
            {
                "model": self.model,
                "temperature": 0,
                "max_tokens": self.max_tokens,
                "messages": [{"role": "user", "content": content}],
            }
        ).encode()

    def ask(self, prompt: Asking, cancel: threading.Event | None = None) -> str:
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {self.key}"} if self.key else {})}
        reply = post_json(
            self.url, self._body(prompt), headers, self.policy, self.stats, f"{self.role} {self.url}", cancel
        )
        try:
            return reply_text(reply["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise SeethinkError(
                f"{self.role} {self.url}: reply is not an OpenAI chat completion with text content: "
                f"{json.dumps(reply)[:200]}"
            ) from None

    def __call__(self, prompts: list[Asking]) -> list[str]:
        cancel = threading.Event()
        pool = ThreadPoolExecutor(self.concurrency)
        try:
            return list(pool.map(lambda p: self.ask(p, cancel), prompts))
        except BaseException:  # Ctrl-C or a failed request: the other workers stop now, not after their retries
            cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # each worker ends within 0.1 s once `cancel` is set


class LocalChat:
    """A local Hugging Face folder, greedy. A VLM (a folder with a multimodal processor) sees the image; a
    text-only causal LM gets the text. Prompts without a chat template are used as plain text."""

    def __init__(self, path: str | Path, max_new_tokens: int = 16, batch_size: int = 8, role: str = "model"):
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
                raise SeethinkError(f"{role} {p}: not a loadable VLM or causal LM ({str(e).splitlines()[0]})") from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _prompt(self, prompt: Asking) -> str:
        if self.processor is None:
            content = prompt.text()
        else:
            content = ([{"type": "image"}] if self.sees_images and prompt.image else []) + [
                {"type": "text", "text": prompt.text()}
            ]
        template = self.processor or self.tokenizer
        if getattr(template, "chat_template", None):
            return template.apply_chat_template(
                [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
            )
        return prompt.text() + "\n"

    def __call__(self, prompts: list[Asking]) -> list[str]:
        out = []
        for start in range(0, len(prompts), self.batch_size):
            batch = prompts[start : start + self.batch_size]
            texts = [self._prompt(r) for r in batch]
            if self.processor is not None:
                per_prompt = [[load_image(r.image)] if r.image and self.sees_images else [] for r in batch]
                enc = self.processor(text=texts, padding=True, return_tensors="pt", **image_kwargs(per_prompt))
            else:
                enc = self.tokenizer(texts, padding=True, return_tensors="pt")
            new = new_tokens(self.model, self.tokenizer.pad_token_id, enc, self.max_new_tokens, do_sample=False)
            out += self.tokenizer.batch_decode(new, skip_special_tokens=True)
        return out


def make_chat(
    spec: str,
    model: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    sees_images: bool = True,
    max_tokens: int = 16,
    role: str = "model",
    flag: str = "--model",
) -> ChatModel:
    """`spec` is an http(s) URL of an OpenAI-compatible API (then `model` names the model it serves) or a local
    folder. `flag` is the option that names the served model, for the error message."""
    if re.match(r"https?://", spec):
        if not model:
            raise SeethinkError(f"{role} {spec}: an endpoint needs {flag} (the model name it serves)")
        return OpenAIChat(spec, model, api_key_env, sees_images, max_tokens=max_tokens, role=role)
    if model:
        raise SeethinkError(f"{flag} is only for endpoints; {spec} is a local folder")
    chat = LocalChat(spec, max_new_tokens=max_tokens, role=role)
    chat.sees_images = chat.sees_images and sees_images
    return chat


def tool_model(spec: str, role: str, max_tokens: int, api_key_env: str) -> ChatModel:
    """A filter model or generator named on the command line as `FOLDER` or `URL::SERVED_NAME`."""
    url, _, served = spec.partition("::") if "://" in spec else (spec, "", "")
    return make_chat(url, served or None, api_key_env, True, max_tokens, role=role, flag="URL::NAME")


# ---------------------------------------------------------------- cache


class ReplyCache:
    """Append-only JSONL of {"key", "reply"}; each reply is on disk before the next chunk is asked.
    `namespace` enters every key: change it when the prompts change meaning."""

    def __init__(self, path: str | Path, namespace: str | int = ""):
        self.path, self.namespace = Path(path), namespace
        self.replies: dict[str, str] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    if isinstance(row["key"], str) and isinstance(row["reply"], str):
                        self.replies[row["key"]] = row["reply"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line torn by a kill, or foreign content: asked again

    def key(self, identity: str, text: str, image: str | None) -> str:
        digest = hashlib.sha256(Path(image).read_bytes()).hexdigest() if image else ""
        blob = json.dumps([self.namespace, identity, text, digest])
        return hashlib.sha256(blob.encode()).hexdigest()

    def add(self, key: str, reply: str) -> None:
        if not isinstance(reply, str):  # a model's bug, not a reply: never stored, so a rerun asks again
            raise SeethinkError(f"{self.path}: a reply is {type(reply).__name__}, not text; nothing was cached")
        self.path.parent.mkdir(parents=True, exist_ok=True)  # on first use: a run that fails early leaves nothing
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "reply": reply}, ensure_ascii=False) + "\n")
        self.replies[key] = reply


def cached(
    model: ChatModel, cache: ReplyCache, chunk: int = 32, label: str = "asking"
) -> Callable[[list[Asking]], list[str]]:
    """Wrap a model: cached replies are reused; new ones are asked `chunk` at a time and saved at once.
    A model that does not see images is keyed without them."""

    def ask(prompts: list[Asking]) -> list[str]:
        keys = [cache.key(model.identity, p.text(), p.image if model.sees_images else None) for p in prompts]
        first: dict[str, int] = {}  # a question that occurs twice is asked once
        for i, k in enumerate(keys):
            if k not in cache.replies:
                first.setdefault(k, i)
        todo = list(first.values())
        with progress_bar() as progress:
            task = progress.add_task(label, total=len(todo))
            for start in range(0, len(todo), chunk):
                idx = todo[start : start + chunk]
                for i, reply in zip(idx, model([prompts[i] for i in idx])):
                    cache.add(keys[i], reply)
                progress.advance(task, len(idx))
        return [cache.replies[k] for k in keys]

    return ask
