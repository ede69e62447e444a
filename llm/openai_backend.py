"""A backend for any OpenAI-compatible server (vLLM, Ollama, llama.cpp, hosted), stdlib only.

Glossary:
    mode: how candidates are scored, best first; the first the server supports is used.
        ``exact``: ``/completions`` with ``echo``, ``logprobs`` and ``max_tokens=0`` (or 1)
        returns each token of ``prompt + candidate`` with its log-probability and text
        offset; a candidate's score is the sum over the tokens that overlap it (a token that
        straddles the prompt's end counts as the candidate's). ``choice``: the candidates are
        listed as ``1. ...``, the model is asked for a number, and each candidate's score is
        the log-probability of its number among the first generated token's
        ``top_logprobs`` (``-inf`` when its number is not among them). ``generation``: the
        model's reply to the same list is matched to a candidate (:func:`parse_choice`); the
        match scores 0 and the others ``-inf``.
    probe: the few tiny requests that find the best mode a server supports; done once, on
        the first ``score`` (or :meth:`OpenAIBackend.probe`), and cached.
    endpoint: ``generate``, ``choice`` and ``generation`` use ``/chat/completions`` (the
        server applies the model's chat template), falling back to ``/completions`` when the
        server answers 404 or 405; ``endpoint=`` forces one.

The API key comes from the ``api_key`` argument, else ``PALAESTRA_LLM_API_KEY``, else
``OPENAI_API_KEY``. It is sent only in the ``Authorization`` header and never appears in
logs, ``repr``, exceptions, :meth:`OpenAIBackend.stats` or a pickle (an unpickled backend
reads the environment again). A server on ``localhost`` is reached directly, others
through the ``*_proxy`` environment variables, as urllib does. Retries: connection errors,
timeouts, malformed JSON, 429 and 5xx are retried ``max_retries`` times with exponential
backoff, then raise :class:`~palaestra.llm.base.BackendUnavailableError`; other statuses
(400, 401, 404, ...) raise :class:`OpenAIHTTPError` at once. Every message names the URL
and, for HTTP errors, the status and the start of the server's body.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from palaestra.llm.base import (
    GENERATE,
    SCORE,
    BackendUnavailableError,
    LLMError,
    ScoreResult,
    check_score_inputs,
    count_words,
)
from palaestra.llm.choices import MAX_CHOICES, format_choices, number_logprobs, parse_choice

log = logging.getLogger(__name__)

__all__ = ["COUNTERS", "ENV_KEYS", "MODES", "OpenAIBackend", "OpenAIHTTPError"]

Mode = Literal["auto", "exact", "choice", "generation"]
MODES: tuple[str, ...] = ("auto", "exact", "choice", "generation")
Endpoint = Literal["auto", "chat", "completions"]
ENV_KEYS: tuple[str, ...] = ("PALAESTRA_LLM_API_KEY", "OPENAI_API_KEY")
MAX_BACKOFF_S = 30.0
COUNTERS: tuple[str, ...] = (
    "requests", "retries", "errors", "prompt_tokens", "completion_tokens", "invalid_replies",
    "latency_s",
)  # fmt: skip
_EXCERPT = 200
_PROBE_TEXT = "The cat sat on the mat."


class OpenAIHTTPError(LLMError):
    """The server answered with an HTTP error that retrying would not fix.

    Attributes:
        url: the URL requested (never with the key).
        status: the HTTP status.
    """

    def __init__(self, url: str, status: int, excerpt: str) -> None:
        self.url = url
        self.status = status
        super().__init__(f"{url} answered HTTP {status}: {excerpt}")


class _Secret:
    """A string that shows as ``***`` in reprs, f-strings and logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or None

    def reveal(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "***" if self._value else "None"

    __str__ = __repr__


def _resolve_key(api_key: str | None) -> _Secret:
    if api_key is not None:
        return _Secret(api_key)
    return _Secret(next((os.environ[k] for k in ENV_KEYS if os.environ.get(k)), None))


def _result(
    logprob: np.ndarray,
    n_tokens: np.ndarray,
    cands: Sequence[str],
    method: str,
    extras: dict[str, float] | None = None,
) -> ScoreResult:
    n_words = np.array([count_words(c) for c in cands], dtype=np.int64)
    return ScoreResult(logprob, n_tokens, n_words, method=method, extras=extras or {})


def _normalise_url(base_url: str) -> str:
    parts = urllib.parse.urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"base_url must be an http(s) URL such as http://host:8000/v1, not {base_url!r}"
        )
    if parts.username or parts.password:
        raise ValueError("base_url must not hold credentials; pass api_key instead")
    path = parts.path.rstrip("/") or "/v1"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _opener(base_url: str) -> urllib.request.OpenerDirector:
    """The HTTP opener; a loopback server is reached directly, never through a proxy."""
    host = urllib.parse.urlsplit(base_url).hostname or ""
    if host in ("localhost", "127.0.0.1", "::1"):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


class OpenAIBackend:
    """Scores and generates through an OpenAI-compatible HTTP server.

    Args:
        base_url: the API root, as the ``openai`` client takes it (``http://host:8000/v1``);
            a URL without a path gets ``/v1``.
        model: the model name the server serves.
        api_key: the bearer key; ``None`` reads ``PALAESTRA_LLM_API_KEY`` then
            ``OPENAI_API_KEY``; ``""`` sends none (local servers).
        timeout: seconds to wait for one answer; a slow server needs more.
        max_retries: retries of a failed request (0 = one attempt only).
        backoff: seconds before the first retry; each later one waits twice as long (at most
            30 s; a 429's ``Retry-After`` is honoured within that cap).
        mode: ``"auto"`` probes the server; ``"exact"``, ``"choice"`` or ``"generation"``
            forces a mode without probing.
        endpoint: ``"auto"`` (chat, falling back to completions on 404/405), ``"chat"`` or
            ``"completions"``, for ``generate`` and the choice and generation modes.
        batch_size: texts per ``/completions`` request in exact mode.
        top_logprobs: how many alternatives to ask for in choice mode (OpenAI allows 20).
        reply_tokens: the longest reply read in generation mode.

    Attributes:
        capabilities: ``score`` (by whichever mode the server allows) and ``generate``.
    """

    capabilities: frozenset[str] = frozenset({SCORE, GENERATE})

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        mode: Mode = "auto",
        endpoint: Endpoint = "auto",
        batch_size: int = 32,
        top_logprobs: int = 20,
        reply_tokens: int = 16,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")
        if endpoint not in ("auto", "chat", "completions"):
            raise ValueError(f"unknown endpoint {endpoint!r}; use auto, chat or completions")
        if timeout <= 0 or max_retries < 0 or backoff < 0:
            raise ValueError(
                f"need timeout > 0, max_retries >= 0 and backoff >= 0; got {timeout}, "
                f"{max_retries}, {backoff}"
            )
        if batch_size < 1 or top_logprobs < 1 or reply_tokens < 1:
            raise ValueError("batch_size, top_logprobs and reply_tokens must be at least 1")
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be the non-empty name the server serves, not {model!r}")
        self.base_url = _normalise_url(base_url)
        self.model = model
        self._api_key = _resolve_key(api_key)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.requested_mode = mode
        self.batch_size = batch_size
        self.top_logprobs = top_logprobs
        self.reply_tokens = reply_tokens
        self._mode: str | None = None if mode == "auto" else mode
        self._chat: bool | None = {"auto": None, "chat": True, "completions": False}[endpoint]
        self._endpoint_fixed = endpoint != "auto"
        self._echo_max_tokens = 0
        self._lock = threading.Lock()
        self._opener = _opener(self.base_url)
        self._stats: dict[str, float] = dict.fromkeys(COUNTERS, 0.0)

    def __repr__(self) -> str:
        return (
            f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r}, "
            f"api_key={self._api_key!r}, mode={self._mode or self.requested_mode!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_api_key"], state["_lock"], state["_opener"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._api_key = _resolve_key(None)
        self._lock = threading.Lock()
        self._opener = _opener(self.base_url)

    # -- accounting -----------------------------------------------------------------------

    def _add(self, **counts: float) -> None:
        with self._lock:
            for name, n in counts.items():
                self._stats[name] += n

    def stats(self) -> dict[str, float]:
        """Counters since construction.

        ``requests`` counts HTTP attempts (retries included), ``retries`` the attempts after
        a failure, ``errors`` the failed attempts (a probe's refused request too),
        ``prompt_tokens`` and ``completion_tokens`` the server's ``usage``,
        ``invalid_replies`` the choice or generation replies that named no candidate, and
        ``latency_s`` the seconds spent waiting for the server.
        """
        with self._lock:
            return dict(self._stats)

    # -- HTTP -----------------------------------------------------------------------------

    def _excerpt(self, raw: bytes | str) -> str:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        key = self._api_key.reveal()
        if key:
            text = text.replace(key, "***")
        text = " ".join(text.split())
        return (text[:_EXCERPT] + "...") if len(text) > _EXCERPT else (text or "(empty body)")

    def _attempt(self, request: urllib.request.Request) -> tuple[dict | None, str, float]:
        """One try: ``(answer, "", 0)``, or ``(None, why, Retry-After seconds)`` to retry."""
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            try:
                excerpt = self._excerpt(err.read() or b"")
            except OSError:
                excerpt = "(body unreadable)"
            if err.code != 429 and err.code < 500:
                raise OpenAIHTTPError(request.full_url, err.code, excerpt) from None
            after = (err.headers or {}).get("Retry-After", "")
            return None, f"HTTP {err.code}: {excerpt}", float(after) if after.isdigit() else 0.0
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            reason = getattr(err, "reason", err)
            return None, f"{type(reason).__name__}: {reason}", 0.0
        try:
            answer = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None, f"malformed JSON: {self._excerpt(raw)}", 0.0
        if not isinstance(answer, dict):
            return None, f"JSON that is not an object: {self._excerpt(raw)}", 0.0
        return answer, "", 0.0

    def _post(self, route: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST JSON to ``base_url + route`` with retries; the parsed JSON object answered."""
        url = self.base_url + route
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key := self._api_key.reveal():
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(payload).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        failure = ""
        for attempt in range(self.max_retries + 1):
            start = time.perf_counter()
            try:
                answer, failure, after = self._attempt(request)
            except OpenAIHTTPError:
                self._add(errors=1)
                raise
            finally:
                self._add(requests=1, latency_s=time.perf_counter() - start)
            if answer is not None:
                usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
                self._add(
                    prompt_tokens=float(usage.get("prompt_tokens") or 0),
                    completion_tokens=float(usage.get("completion_tokens") or 0),
                )
                log.debug("POST %s: %.3fs", url, time.perf_counter() - start)
                return answer
            self._add(errors=1)
            if attempt == self.max_retries:
                break
            wait = min(max(self.backoff * 2**attempt, after), MAX_BACKOFF_S)
            msg = "POST %s failed (%s); retry %d of %d in %.2fs"
            log.warning(msg, url, failure, attempt + 1, self.max_retries, wait)
            self._add(retries=1)
            time.sleep(wait)
        raise BackendUnavailableError(
            f"{url} failed after {self.max_retries + 1} attempt(s); last: {failure}. Is the "
            "server running at that address and serving this model?"
        )

    def _choices(self, answer: dict[str, Any], route: str, n: int = 1) -> list[dict[str, Any]]:
        """The answer's ``n`` choices in index order, or an error naming the URL."""
        choices = answer.get("choices")
        if not (isinstance(choices, list) and len(choices) == n) or not all(
            isinstance(c, dict) for c in choices
        ):
            raise LLMError(
                f"{self.base_url + route} answered {len(choices or [])} choice(s), not {n}: "
                f"{self._excerpt(json.dumps(answer))}"
            )
        return sorted(choices, key=lambda c: c.get("index", 0))

    def _complete(
        self,
        text: str,
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] | None,
        top_logprobs: int | None = None,
    ) -> tuple[str, dict[str, float] | None]:
        """One reply to ``text`` and, if asked, its first token's ``top_logprobs``."""
        base: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens}
        base["temperature"] = temperature
        if stop:
            base["stop"] = list(stop)
        if self._chat is not False:
            payload = {**base, "messages": [{"role": "user", "content": text}]}
            if top_logprobs:
                payload.update(logprobs=True, top_logprobs=top_logprobs)
            try:
                answer = self._post("/chat/completions", payload)
            except OpenAIHTTPError as err:
                if self._endpoint_fixed or self._chat or err.status not in (404, 405):
                    raise
                log.info("%s has no chat endpoint; using /completions", self.base_url)
                self._chat = False
            else:
                self._chat = True
                (choice,) = self._choices(answer, "/chat/completions")
                content = (choice.get("logprobs") or {}).get("content") or [{}]
                tops = content[0].get("top_logprobs") if isinstance(content[0], dict) else None
                top = {e["token"]: e["logprob"] for e in tops} if tops else None
                return (choice.get("message") or {}).get("content") or "", top
        payload = {**base, "prompt": text}
        if top_logprobs:
            payload["logprobs"] = top_logprobs
        (choice,) = self._choices(self._post("/completions", payload), "/completions")
        tops = (choice.get("logprobs") or {}).get("top_logprobs") or []
        return choice.get("text") or "", (dict(tops[0]) if tops and tops[0] else None)

    # -- probing --------------------------------------------------------------------------

    def _echo_payload(self, texts: list[str], max_tokens: int) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt": texts,
            "echo": True,
            "logprobs": 1,
            "max_tokens": max_tokens,
            "temperature": 0.0,
        }

    def _probe_exact(self) -> bool:
        for max_tokens in (0, 1):
            try:
                answer = self._post("/completions", self._echo_payload([_PROBE_TEXT], max_tokens))
            except OpenAIHTTPError as err:
                if err.status in (400, 422) and max_tokens == 0:
                    continue  # some servers refuse max_tokens=0: try 1
                if err.status in (400, 404, 405, 422, 501):
                    return False
                raise
            lp = self._choices(answer, "/completions")[0].get("logprobs") or {}
            tokens, values = lp.get("tokens") or [], lp.get("token_logprobs") or []
            offsets = lp.get("text_offset") or []
            echoed = "".join(t for t in tokens if isinstance(t, str)).startswith(_PROBE_TEXT)
            if echoed and len(tokens) == len(values) == len(offsets) and offsets[0] == 0:
                self._echo_max_tokens = max_tokens
                return True
            return False
        return False

    def _probe_choice(self) -> bool:
        question = format_choices("Which of these is a colour?", ["seven", "red"])
        try:
            _, top = self._complete(
                question, max_tokens=1, temperature=0, stop=None, top_logprobs=5
            )
        except OpenAIHTTPError as err:
            if err.status in (400, 404, 405, 422, 501):
                return False
            raise
        return bool(top)

    def probe(self) -> str:
        """The scoring mode: forced, cached, or found by probing the server now.

        Returns:
            ``"exact"``, ``"choice"`` or ``"generation"``.

        Raises:
            BackendUnavailableError: the server cannot be reached.
            OpenAIHTTPError: the server refused a probe for a reason other than not
                supporting it (for example 401, a wrong key).
        """
        if self._mode is None:
            if self._probe_exact():
                self._mode = "exact"
            elif self._probe_choice():
                self._mode = "choice"
            else:
                self._mode = "generation"
            log.info("%s (model %s) scores by %s", self.base_url, self.model, self._mode)
        return self._mode

    @property
    def mode(self) -> str:
        """The scoring mode in use (probes the server the first time it is read)."""
        return self.probe()

    # -- scoring --------------------------------------------------------------------------

    def score(
        self, prompts: Sequence[str], candidates: Sequence[Sequence[str]]
    ) -> list[ScoreResult]:
        """Score each prompt's candidates in the server's best mode (see the glossary).

        Returns:
            One :class:`ScoreResult` per prompt. ``method`` says the mode used (a prompt
            with more than :data:`MAX_CHOICES` candidates in choice mode is scored by
            generation). Choice and generation results carry ``extras["parsed"]``: 1.0 when
            the reply named a candidate, 0.0 when it did not (then every score is ``-inf``
            and the caller should count an invalid reply and fall back).
        """
        check_score_inputs(prompts, candidates)
        mode = self.probe() if prompts else "exact"
        if mode == "exact":
            return self._score_exact(prompts, candidates)
        return [
            self._score_listed(p, c, mode if len(c) <= MAX_CHOICES else "generation")
            for p, c in zip(prompts, candidates, strict=True)
        ]

    def _score_exact(
        self, prompts: Sequence[str], candidates: Sequence[Sequence[str]]
    ) -> list[ScoreResult]:
        pairs = [(p, c) for p, cs in zip(prompts, candidates, strict=True) for c in cs]
        sums, counts = [], []
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            payload = self._echo_payload([p + c for p, c in chunk], self._echo_max_tokens)
            choices = self._choices(self._post("/completions", payload), "/completions", len(chunk))
            for (p, c), choice in zip(chunk, choices, strict=True):
                total, n = self._candidate_logprob(choice.get("logprobs") or {}, p, c)
                sums.append(total)
                counts.append(n)
        ends = np.cumsum([len(c) for c in candidates])
        return [
            _result(np.array(sums[e - len(c) : e]), np.array(counts[e - len(c) : e]), c, "exact")
            for c, e in zip(candidates, ends, strict=True)
        ]

    def _candidate_logprob(self, lp: dict[str, Any], prompt: str, cand: str) -> tuple[float, int]:
        """Summed log-probability and count of the echoed tokens overlapping ``cand``.

        A token overlaps the candidate when it ends after the prompt ends and starts before
        the candidate ends (so generated tokens past the text are left out). A ``None``
        log-probability (only ever the text's first token, with an empty prompt) counts 0.
        """
        tokens, values, offsets = lp.get("tokens"), lp.get("token_logprobs"), lp.get("text_offset")
        if not (
            isinstance(tokens, list) and isinstance(values, list) and isinstance(offsets, list)
        ):
            raise LLMError(f"{self.base_url}/completions answered without echoed logprobs")
        begin, end = len(prompt), len(prompt) + len(cand)
        total, n = 0.0, 0
        for j, (token, value, offset) in enumerate(zip(tokens, values, offsets, strict=True)):
            stop = offsets[j + 1] if j + 1 < len(offsets) else offset + len(token)
            if offset >= end:
                break
            if stop > begin:
                total += float(value) if value is not None else 0.0
                n += 1
        if n == 0:
            raise LLMError(
                f"{self.base_url}/completions echoed no token of candidate {cand!r}; the "
                "server's echo does not cover the prompt (use mode='choice')"
            )
        return total, n

    def _score_listed(self, prompt: str, cands: Sequence[str], mode: str) -> ScoreResult:
        """Choice or generation mode: the numbered list asked once, the reply read."""
        choice = mode == "choice"
        reply, top = self._complete(
            format_choices(prompt, cands),
            max_tokens=1 if choice else self.reply_tokens,
            temperature=0.0,
            stop=None,
            top_logprobs=self.top_logprobs if choice else None,
        )
        logprob = np.full(len(cands), -np.inf)
        if choice:
            logprob = number_logprobs(top or {}, len(cands))
        elif (k := parse_choice(reply, cands)) is not None:
            logprob[k] = 0.0
        parsed = bool(np.isfinite(logprob).any())
        if not parsed:
            self._add(invalid_replies=1)
            log.debug("reply %r names none of %d candidates", reply[:80], len(cands))
        extras = {"parsed": float(parsed)}
        if choice:
            extras["mass"] = float(np.exp(logprob).sum())
        return _result(logprob, np.ones(len(cands), dtype=np.int64), cands, mode, extras)

    # -- generation -----------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> list[str]:
        """One reply per prompt, one request each (chat endpoint unless told otherwise).

        Args:
            prompts: the texts to answer (each sent as one user message on the chat
                endpoint, or continued as is on the completions endpoint).
            max_new_tokens: the longest reply in tokens.
            temperature: 0 is greedy (as deterministic as the server allows).
            stop: strings that end a reply (not included in it).

        Returns:
            The replies, in order.
        """
        if isinstance(prompts, str):
            raise TypeError("generate() takes a list of prompts, not one string")
        if max_new_tokens < 1 or temperature < 0 or not math.isfinite(temperature):
            raise ValueError(
                f"need max_new_tokens >= 1 and a finite temperature >= 0; got "
                f"{max_new_tokens}, {temperature}"
            )
        return [
            self._complete(p, max_tokens=max_new_tokens, temperature=temperature, stop=stop)[0]
            for p in prompts
        ]
