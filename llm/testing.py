"""A scripted OpenAI-compatible server on loopback, to test agents and backends offline.

Glossary:
    kind: which part of the OpenAI API the server offers, like the servers met in practice:
        ``"echo"`` (prompt log-probabilities through ``/v1/completions`` with ``echo``, as
        vLLM and the legacy OpenAI completions do), ``"top_logprobs"`` (log-probabilities of
        generated tokens only; ``echo`` is ignored, as by many chat-first servers) and
        ``"generation"`` (``/v1/chat/completions`` without log-probabilities;
        ``/v1/completions`` answers 404).
    fake tokenizer: a token is a run of non-space characters with the spaces before it
        (``"collect wood"`` is ``["collect", " wood"]``), so every score is checkable by hand.
    table: the log-probability of each token, looked up by its text without spaces; tokens
        not in it get ``default_logprob``. The first token of an echoed text has ``None``, as
        in OpenAI's API.
    numbered list: lines ``"1. text"`` in a prompt; the server then answers with the number
        (or the text) of the candidate whose tokens have the highest summed table score, and
        the first generated token's ``top_logprobs`` give number ``k`` the log-probability
        ``log_softmax(scores)[k] + log(0.9)``, the rest (0.1) going to the token ``"I"``.

:class:`ScriptedServer` runs a real ``http.server.ThreadingHTTPServer`` on ``127.0.0.1``
(port 0: the system picks a free one) in a daemon thread. It records every request (path,
headers, JSON body) and replays queued :class:`Scripted` answers first (an HTTP status, a raw
body such as malformed JSON, a fixed reply, a delay), which is how a test makes a server fail
on purpose::

    with ScriptedServer("echo", table={"wood": -0.5}) as server:
        backend = OpenAIBackend(server.url, model="fake")
        server.push(Scripted(status=500))  # the next request fails once, then all is well

:func:`train_tokenizer` trains a small byte-level BPE on given texts, for causal models built
from a config in offline tests. The server needs only the standard library; the tokenizer
needs the ``[llm]`` extra.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

log = logging.getLogger(__name__)

__all__ = [
    "KINDS",
    "RecordedRequest",
    "Scripted",
    "ScriptedServer",
    "fake_tokenize",
    "train_tokenizer",
]

Kind = Literal["echo", "top_logprobs", "generation"]
KINDS: tuple[str, ...] = ("echo", "top_logprobs", "generation")
_TOKEN = re.compile(r"\s*\S+|\s+")
_ITEM = re.compile(r"^\s*(\d+)\.\s+(.+?)\s*$", re.MULTILINE)
CHOICE_MASS = 0.9  # the probability the numbered-choice tokens share; the rest goes to "I"


def train_tokenizer(texts: list[str], *, vocab_size: int = 400, bos: bool = True) -> Any:
    """A byte-level BPE trained on ``texts``, wrapped for transformers; nothing downloaded.

    Special tokens: pad id 0 (``<pad>``), BOS 1 (``<s>``, prepended to every encoding when
    ``bos``), EOS 2 (``</s>``, never added).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", 1)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )


def fake_tokenize(text: str) -> list[str]:
    """Split ``text`` into the fake tokenizer's tokens; ``"".join`` gives ``text`` back."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Scripted:
    """One queued answer, used for the next request instead of the normal one.

    Attributes:
        status: the HTTP status to answer with; not 200 sends an OpenAI-style error body
            unless ``body`` is given.
        body: a raw body to send as is (malformed JSON, an empty string, ...).
        text: with status 200 and no body, the generated text of a normal answer.
        delay: seconds to wait before answering (longer than a client's timeout makes it
            time out).
    """

    status: int = 200
    body: str | None = None
    text: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received: path, lower-cased headers and the parsed JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _State:
    queue: deque[Scripted] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ScriptedServer:
    """A fake OpenAI-compatible server with deterministic, hand-checkable log-probabilities.

    Args:
        kind: ``"echo"``, ``"top_logprobs"`` or ``"generation"`` (see the module glossary).
        table: token text (without spaces) to log-probability.
        default_logprob: the log-probability of tokens not in ``table``.
        api_key: when set, requests without ``Authorization: Bearer <api_key>`` get 401.
        zero_max_tokens: whether ``echo`` with ``max_tokens=0`` is accepted (vLLM and
            OpenAI accept it); ``False`` answers 400, as some servers do.
        answer: how a numbered list is answered: with the best candidate's ``"number"``
            or its ``"text"``.
        default_reply: the generated text when a prompt has no numbered list.
        model: the model name the server reports.
    """

    def __init__(
        self,
        kind: Kind = "echo",
        *,
        table: Mapping[str, float] | None = None,
        default_logprob: float = -1.0,
        api_key: str | None = None,
        zero_max_tokens: bool = True,
        answer: Literal["number", "text"] = "number",
        default_reply: str = "ok",
        model: str = "scripted",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; use one of {KINDS}")
        self.kind = kind
        self.table = dict(table or {})
        self.default_logprob = float(default_logprob)
        self.api_key = api_key
        self.zero_max_tokens = zero_max_tokens
        self.answer = answer
        self.default_reply = default_reply
        self.model = model
        self._state = _State()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.app = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        log.debug("scripted %s server listening on %s", kind, self.url)

    @property
    def url(self) -> str:
        """The API root, ``http://127.0.0.1:<port>/v1``, to pass as ``base_url``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    def push(self, *items: Scripted) -> None:
        """Queue answers for the next requests, in order (each is used once)."""
        with self._state.lock:
            self._state.queue.extend(items)

    def close(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the fake model -------------------------------------------------------------------

    def logprob(self, token: str) -> float:
        """The table's log-probability of one token."""
        return self.table.get(token.strip(), self.default_logprob)

    def text_score(self, text: str) -> float:
        """The summed table log-probability of a text's tokens (no ``None`` first token)."""
        return sum(self.logprob(t) for t in fake_tokenize(text))

    def choice_logprobs(self, prompt: str) -> dict[str, float] | None:
        """Number token to log-probability for a prompt's numbered list, or ``None``."""
        items = _ITEM.findall(prompt)
        if not items:
            return None
        scores = [self.text_score(text) for _, text in items]
        top = max(scores)
        norm = top + math.log(sum(math.exp(s - top) for s in scores))
        mass = math.log(CHOICE_MASS)
        return {number: s - norm + mass for (number, _), s in zip(items, scores, strict=True)}

    def reply(self, prompt: str) -> str:
        """The text the fake model generates for a prompt (before ``max_tokens`` and stops)."""
        items = _ITEM.findall(prompt)
        if not items:
            return self.default_reply
        best = max(range(len(items)), key=lambda k: self.text_score(items[k][1]))
        return items[best][0] if self.answer == "number" else items[best][1]

    def _top(self, prompt: str, token: str, first: bool, n: int) -> dict[str, float]:
        choices = self.choice_logprobs(prompt) if first else None
        if choices is None:
            return {token: self.logprob(token)}
        choices["I"] = math.log(1.0 - CHOICE_MASS)
        ranked = sorted(choices.items(), key=lambda kv: -kv[1])
        return dict(ranked[: max(n, 1)])

    def _lp(self, prompt: str, token: str, first: bool) -> float:
        """A token's log-probability; a first generated number follows the choice list."""
        choices = self.choice_logprobs(prompt) if first else None
        if choices is not None and token.strip() in choices:
            return choices[token.strip()]
        return self.logprob(token)

    def _generated(self, prompt: str, body: dict, text: str | None) -> list[str]:
        out = self.reply(prompt) if text is None else text
        for stop in body.get("stop") or []:
            if stop and stop in out:
                out = out[: out.index(stop)]
        return fake_tokenize(out)[: int(body.get("max_tokens", 16))]

    def completion(self, body: dict, text: str | None = None) -> tuple[int, dict]:
        """The answer to ``POST /v1/completions``: (status, JSON)."""
        if self.kind == "generation":
            return 404, _error("this server has no /v1/completions; use /v1/chat/completions")
        prompts = body.get("prompt", "")
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        echo = bool(body.get("echo")) and self.kind == "echo"
        want = body.get("logprobs")
        if echo and int(body.get("max_tokens", 16)) == 0 and not self.zero_max_tokens:
            return 400, _error("max_tokens must be at least 1")
        choices, used, made = [], 0, 0
        for index, prompt in enumerate(prompts):
            generated = self._generated(prompt, body, text)
            shown = fake_tokenize(prompt) if echo else []
            tokens = shown + generated
            used, made = used + len(fake_tokenize(prompt)), made + len(generated)
            logprobs = None
            if want is not None:
                offsets, at = [], 0 if echo else len(prompt)
                for token in tokens:
                    offsets.append(at)
                    at += len(token)
                first = len(shown)
                logprobs = {
                    "tokens": tokens,
                    "token_logprobs": [
                        None if echo and j == 0 else self._lp(prompt, t, j == first)
                        for j, t in enumerate(tokens)
                    ],
                    "top_logprobs": [
                        None if echo and j == 0 else self._top(prompt, t, j == first, int(want))
                        for j, t in enumerate(tokens)
                    ],
                    "text_offset": offsets,
                }
            text_out = (prompt if echo else "") + "".join(generated)
            choices.append(
                {"index": index, "text": text_out, "logprobs": logprobs, "finish_reason": "length"}
            )
        return 200, {
            "id": "cmpl-scripted",
            "object": "text_completion",
            "model": self.model,
            "choices": choices,
            "usage": _usage(used, made),
        }

    def chat(self, body: dict, text: str | None = None) -> tuple[int, dict]:
        """The answer to ``POST /v1/chat/completions``: (status, JSON)."""
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        generated = self._generated(prompt, body, text)
        logprobs = None
        if body.get("logprobs") and self.kind != "generation":
            n = int(body.get("top_logprobs") or 0)
            content = []
            for j, token in enumerate(generated):
                top = self._top(prompt, token, j == 0, n) if n else {}
                content.append(
                    {
                        "token": token,
                        "logprob": self._lp(prompt, token, j == 0),
                        "bytes": None,
                        "top_logprobs": [
                            {"token": t, "logprob": lp, "bytes": None} for t, lp in top.items()
                        ],
                    }
                )
            logprobs = {"content": content}
        message = {"role": "assistant", "content": "".join(generated)}
        choice = {"index": 0, "message": message, "logprobs": logprobs, "finish_reason": "stop"}
        return 200, {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "model": self.model,
            "choices": [choice],
            "usage": _usage(len(fake_tokenize(prompt)), len(generated)),
        }


def _error(message: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the :class:`ScriptedServer` stored on the HTTP server."""

    server_version = "palaestra-scripted/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("scripted server: " + format, *args)

    def _send(self, status: int, payload: dict | str) -> None:
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
            log.debug("scripted server: client went away before the answer")

    def _record(self, body: Any) -> ScriptedServer:
        app: ScriptedServer = self.server.app  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in self.headers.items()}
        with app._state.lock:
            app._state.requests.append(RecordedRequest(self.command, self.path, headers, body))
        return app

    def _authorised(self, app: ScriptedServer) -> bool:
        if app.api_key is None or self.headers.get("Authorization") == f"Bearer {app.api_key}":
            return True
        self._send(401, _error("Incorrect API key provided."))
        return False

    def do_GET(self) -> None:
        """``/v1/models`` lists the one model; anything else is 404."""
        app = self._record(None)
        if not self._authorised(app):
            return
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": app.model, "object": "model"}]})
        else:
            self._send(404, _error(f"no route {self.path}"))

    def do_POST(self) -> None:
        """``/v1/completions`` and ``/v1/chat/completions``, or the next scripted answer."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = None
        app = self._record(body)
        with app._state.lock:
            scripted = app._state.queue.popleft() if app._state.queue else Scripted()
        if scripted.delay:
            time.sleep(scripted.delay)
        if not self._authorised(app):
            return
        if scripted.body is not None:
            self._send(scripted.status, scripted.body)
            return
        if scripted.status != 200:
            self._send(scripted.status, _error(f"scripted HTTP {scripted.status}"))
            return
        if not isinstance(body, dict):
            self._send(400, _error("the body is not a JSON object"))
            return
        route = self.path.rstrip("/")
        if route == "/v1/completions":
            self._send(*app.completion(body, scripted.text))
        elif route == "/v1/chat/completions":
            self._send(*app.chat(body, scripted.text))
        else:
            self._send(404, _error(f"no route {self.path}"))
