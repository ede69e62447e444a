"""The OpenAI-compatible backend against a real scripted HTTP server on 127.0.0.1.

The server (palaestra.llm.testing) uses a fake tokenizer (a token is a word with the spaces
before it) and a table of token log-probabilities, so every score below is worked out by hand:
with TABLE, " collect" is -0.25, " wood" -0.5, and any other token -1.
"""

from __future__ import annotations

import logging
import math
import pickle
import socket
import time

import numpy as np
import pytest

from palaestra.llm import Backend, BackendUnavailableError
from palaestra.llm.choices import format_choices, number_logprobs, parse_choice
from palaestra.llm.openai_backend import OpenAIBackend, OpenAIHTTPError
from palaestra.llm.testing import Scripted, ScriptedServer, fake_tokenize

TABLE = {"collect": -0.25, "wood": -0.5}
PROMPT = "You see a tree."
CANDS = [" collect wood", " fold the hand"]
SECRET = "sk-test-0123456789abcdef"


@pytest.fixture
def serve():
    """Start scripted servers; all are closed at teardown."""
    servers = []

    def start(kind="echo", **kwargs):
        server = ScriptedServer(kind, table=TABLE, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def backend_for(server, **kwargs):
    kwargs.setdefault("api_key", "")
    kwargs.setdefault("max_retries", 2)
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("timeout", 5.0)
    return OpenAIBackend(server.url, "scripted", **kwargs)


def log_softmax(xs):
    xs = np.asarray(xs, dtype=np.float64)
    return xs - (xs.max() + np.log(np.exp(xs - xs.max()).sum()))


# -- the fake server itself ------------------------------------------------------------------


def test_fake_tokenizer_round_trips():
    text = "  You see\ta tree.  "
    assert "".join(fake_tokenize(text)) == text
    assert fake_tokenize("collect wood") == ["collect", " wood"]


# -- probing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "mode"),
    [("echo", "exact"), ("top_logprobs", "choice"), ("generation", "generation")],
)
def test_the_probe_picks_the_best_mode_the_server_offers(serve, kind, mode):
    server = serve(kind)
    backend = backend_for(server)
    assert isinstance(backend, Backend)
    assert backend.probe() == mode
    n = len(server.requests)
    assert backend.mode == mode  # cached: no new request
    assert len(server.requests) == n
    (result,) = backend.score([PROMPT], [CANDS])
    assert result.method == mode
    assert f"mode={mode!r}" in repr(backend)


def test_a_forced_mode_sends_no_probe(serve):
    server = serve("echo")
    backend = backend_for(server, mode="choice")
    backend.score([PROMPT], [CANDS])
    assert [r.path for r in server.requests] == ["/v1/chat/completions"]


def test_url_without_path_gets_v1_and_bad_urls_are_refused(serve):
    server = serve("echo")
    root = server.url.removesuffix("/v1")
    assert OpenAIBackend(root + "/", "m", api_key="").base_url == server.url
    with pytest.raises(ValueError, match="http"):
        OpenAIBackend("localhost:8000", "m")
    with pytest.raises(ValueError, match="credentials"):
        OpenAIBackend("http://user:pw@localhost:8000/v1", "m")
    with pytest.raises(ValueError, match="mode"):
        OpenAIBackend(server.url, "m", mode="guess")


# -- exact mode ------------------------------------------------------------------------------


def test_exact_scores_are_summed_prompt_logprobs_found_by_offsets(serve):
    server = serve("echo")
    backend = backend_for(server)
    first, second = backend.score([PROMPT, "I go"], [CANDS, ["ne", " away"]])
    # " collect wood": -0.25 - 0.5; " fold the hand": three unknown tokens.
    np.testing.assert_allclose(first.logprob, [-0.75, -3.0])
    assert first.n_tokens.tolist() == [2, 3]
    assert first.n_words.tolist() == [2, 3]
    # "I go" + "ne" is the tokens "I", " gone": the token straddling the prompt's end
    # counts as the candidate's.
    np.testing.assert_allclose(second.logprob, [-1.0, -1.0])
    assert second.n_tokens.tolist() == [1, 1]
    body = server.requests[-1].body
    assert body["echo"] is True and body["max_tokens"] == 0 and body["logprobs"] == 1
    assert body["prompt"] == [PROMPT + CANDS[0], PROMPT + CANDS[1], "I gone", "I go away"]


def test_exact_requests_are_batched(serve):
    server = serve("echo")
    backend = backend_for(server, mode="exact", batch_size=2)
    cands = [" wood", " collect", " a b", " collect wood", " x"]
    (result,) = backend.score([PROMPT], [cands])
    assert len(server.requests) == 3
    np.testing.assert_allclose(result.logprob, [-0.5, -0.25, -2.0, -0.75, -1.0])


def test_exact_falls_back_to_one_generated_token_when_zero_is_refused(serve):
    server = serve("echo", zero_max_tokens=False)
    backend = backend_for(server)
    assert backend.probe() == "exact"
    (result,) = backend.score([PROMPT], [CANDS])
    np.testing.assert_allclose(result.logprob, [-0.75, -3.0])  # the generated token is left out
    assert server.requests[-1].body["max_tokens"] == 1


def test_usage_is_counted(serve):
    server = serve("echo")
    backend = backend_for(server, mode="exact")
    backend.score([PROMPT], [CANDS])
    stats = backend.stats()
    # prompt tokens: "You see a tree." is 4, plus 2 and 3 candidate tokens.
    assert stats["prompt_tokens"] == 13
    assert stats["completion_tokens"] == 0
    assert stats["requests"] == 1 and stats["errors"] == 0 and stats["latency_s"] > 0


# -- choice mode -----------------------------------------------------------------------------


def test_choice_logprobs_are_the_number_tokens_logprobs(serve):
    server = serve("top_logprobs")
    backend = backend_for(server)
    cands = [" collect wood", " fold the hand", " wood"]
    (result,) = backend.score([PROMPT], [cands])
    expected = log_softmax([-0.75, -3.0, -0.5]) + math.log(0.9)
    np.testing.assert_allclose(result.logprob, expected)
    assert result.method == "choice"
    assert result.n_tokens.tolist() == [1, 1, 1]
    assert result.extras["parsed"] == 1.0
    assert result.extras["mass"] == pytest.approx(0.9)
    body = server.requests[-1].body
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    assert "\n1. collect wood\n2. fold the hand\n3. wood\n" in body["messages"][0]["content"]


def test_choice_mode_scores_long_lists_by_generation(serve):
    server = serve("top_logprobs", answer="text")
    backend = backend_for(server, mode="choice")
    cands = [f" item{k}" for k in range(10)] + [" collect wood"]
    (result,) = backend.score([PROMPT], [cands])
    assert result.method == "generation"
    assert result.logprob[-1] == 0.0 and np.isneginf(result.logprob[:-1]).all()


def test_number_logprobs_reads_spaced_and_dotted_numbers():
    top = {"2": math.log(0.3), " 2": math.log(0.2), "1.": math.log(0.1), "I": -0.1, "7": -1.0}
    lp = number_logprobs(top, 3)
    np.testing.assert_allclose(lp[:2], [math.log(0.1), math.log(0.5)])
    assert np.isneginf(lp[2])  # missing numbers are -inf
    assert np.isneginf(number_logprobs({"The": -0.1}, 2)).all()


def test_choice_mode_works_over_completions_when_chat_is_missing(serve):
    server = serve("top_logprobs")
    backend = backend_for(server, mode="choice", endpoint="completions")
    (result,) = backend.score([PROMPT], [CANDS])
    np.testing.assert_allclose(result.logprob, log_softmax([-0.75, -3.0]) + math.log(0.9))
    assert server.requests[-1].path == "/v1/completions"


# -- generation mode -------------------------------------------------------------------------


def test_parse_choice_rules():
    cands = ["collect wood", "fold the hand", "fold", "2 chips"]
    assert parse_choice("fold", cands) == 2  # exact first
    assert parse_choice("2 chips", cands) == 3  # exact beats the number rule
    assert parse_choice("2", cands) == 1
    assert parse_choice(" 2.\n", cands) == 1
    assert parse_choice("(1) collect", cands) == 0
    assert parse_choice("\n\nFOLD THE HAND", cands) == 1  # first non-empty line, any case
    assert parse_choice("coll", cands) == 0  # a unique prefix
    assert parse_choice("collect wood, then rest", cands) == 0  # starts with one candidate
    assert parse_choice("fol", cands) is None  # a prefix of two
    assert parse_choice("9", cands) is None  # out of range, and no other rule matches
    assert parse_choice("", cands) is None
    assert parse_choice("fly away", cands) is None
    assert parse_choice('"collect wood"', [" fold", " collect wood"]) == 1  # spaces, quotes
    assert "1. collect wood\n2. fold the hand" in format_choices("Hi", cands)


def test_generation_replies_are_parsed_and_unparseable_ones_flagged(serve):
    server = serve("generation")
    backend = backend_for(server)
    assert backend.probe() == "generation"
    server.push(
        Scripted(text="Fold the hand"),
        Scripted(text="1"),
        Scripted(text=""),
        Scripted(text="jump over it"),
    )
    results = backend.score([PROMPT] * 4, [CANDS] * 4)
    assert [r.logprob.tolist() for r in results[:2]] == [[-math.inf, 0.0], [0.0, -math.inf]]
    for r in results[2:]:  # empty and illegal replies
        assert np.isneginf(r.logprob).all()
        assert r.extras["parsed"] == 0.0
    assert [r.extras["parsed"] for r in results[:2]] == [1.0, 1.0]
    assert all(r.method == "generation" and r.n_tokens.tolist() == [1, 1] for r in results)
    assert backend.stats()["invalid_replies"] == 2


def test_the_default_answer_is_the_best_candidate(serve):
    server = serve("generation", answer="text")
    backend = backend_for(server)
    (result,) = backend.score([PROMPT], [[" fold the hand", " collect wood"]])
    assert result.logprob.tolist() == [-math.inf, 0.0]


# -- generate --------------------------------------------------------------------------------


def test_generate_uses_chat_with_limits_and_stops(serve):
    server = serve("echo", default_reply="go north then east")
    backend = backend_for(server)
    assert backend.generate(["a", "b"], max_new_tokens=2) == ["go north"] * 2
    assert backend.generate(["a"], max_new_tokens=9, stop=[" then"]) == ["go north"]
    assert {r.path for r in server.requests} == {"/v1/chat/completions"}
    assert server.requests[-1].body["stop"] == [" then"]
    assert backend.stats()["completion_tokens"] == 6
    with pytest.raises(ValueError, match="max_new_tokens"):
        backend.generate(["a"], max_new_tokens=0)
    with pytest.raises(TypeError):
        backend.generate("a", max_new_tokens=1)


def test_generate_falls_back_to_completions_on_404(serve):
    server = serve("echo", default_reply="ok")
    backend = backend_for(server)
    server.push(Scripted(status=404))
    assert backend.generate(["hi"], max_new_tokens=3) == ["ok"]
    assert backend.generate(["hi"], max_new_tokens=3) == ["ok"]
    assert [r.path for r in server.requests] == [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/completions",
    ]


# -- failures --------------------------------------------------------------------------------


def test_a_500_and_malformed_json_are_retried_and_counted(serve):
    server = serve("echo")
    backend = backend_for(server, mode="exact")
    server.push(Scripted(status=500), Scripted(body="{not json"))
    (result,) = backend.score([PROMPT], [CANDS])
    np.testing.assert_allclose(result.logprob, [-0.75, -3.0])
    stats = backend.stats()
    assert (stats["requests"], stats["retries"], stats["errors"]) == (3, 2, 2)


def test_a_server_that_keeps_failing_is_unavailable(serve):
    server = serve("echo")
    backend = backend_for(server, mode="exact", max_retries=1)
    server.push(Scripted(status=503), Scripted(status=503))
    with pytest.raises(BackendUnavailableError, match="HTTP 503") as err:
        backend.score([PROMPT], [CANDS])
    assert server.url in str(err.value) and "2 attempt(s)" in str(err.value)


def test_a_timeout_is_retried(serve):
    server = serve("echo")
    backend = backend_for(server, mode="exact", timeout=0.2)
    server.push(Scripted(delay=0.6))
    (result,) = backend.score([PROMPT], [CANDS])
    np.testing.assert_allclose(result.logprob, [-0.75, -3.0])
    assert backend.stats()["retries"] == 1


def test_401_is_not_retried_and_names_the_url(serve):
    server = serve("echo", api_key="the-right-key")
    backend = backend_for(server, api_key=SECRET)
    with pytest.raises(OpenAIHTTPError) as err:
        backend.probe()
    message = str(err.value)
    assert err.value.status == 401
    assert server.url + "/completions" in message and "401" in message
    assert "Incorrect API key" in message and SECRET not in message
    assert backend.stats()["requests"] == 1 and backend.stats()["retries"] == 0


def test_an_unreachable_server_is_reported_quickly():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    backend = OpenAIBackend(url, "m", api_key="", max_retries=2, backoff=0.01, timeout=1.0)
    start = time.perf_counter()
    with pytest.raises(BackendUnavailableError) as err:
        backend.generate(["hi"], max_new_tokens=1)
    assert time.perf_counter() - start < 3.0
    assert url in str(err.value)
    assert backend.stats()["retries"] == 2 and backend.stats()["errors"] == 3


def test_an_answer_without_choices_is_a_clear_error(serve):
    server = serve("echo")
    backend = backend_for(server, mode="generation")
    server.push(Scripted(body='{"choices": []}'))
    with pytest.raises(Exception, match="answered 0 choice"):
        backend.score([PROMPT], [CANDS])


# -- the API key -----------------------------------------------------------------------------


def test_the_key_is_sent_but_never_shown(serve, caplog):
    caplog.set_level(logging.DEBUG)
    server = serve("echo", api_key=SECRET)
    backend = backend_for(server, api_key=SECRET)
    backend.score([PROMPT], [CANDS])
    backend.generate(["hi"], max_new_tokens=2)
    assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {SECRET}"}
    # an error body that echoes the key, a retried failure and a refused request
    server.push(Scripted(status=500), Scripted(status=400, body=f'{{"error": "bad {SECRET}"}}'))
    with pytest.raises(OpenAIHTTPError) as err:
        backend.generate(["hi"], max_new_tokens=2)
    assert SECRET not in str(err.value) and "***" in str(err.value)
    assert SECRET not in repr(backend) and "api_key=***" in repr(backend)
    assert SECRET not in str(backend.stats())
    assert SECRET not in repr(vars(backend))
    assert SECRET.encode() not in pickle.dumps(backend)
    assert caplog.records, "the backend logged nothing at DEBUG"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.args)


def test_the_key_comes_from_the_environment(serve, monkeypatch):
    server = serve("echo")
    monkeypatch.setenv("OPENAI_API_KEY", "from-openai")
    monkeypatch.setenv("PALAESTRA_LLM_API_KEY", "from-palaestra")
    OpenAIBackend(server.url, "m").generate(["a"], max_new_tokens=1)
    monkeypatch.delenv("PALAESTRA_LLM_API_KEY")
    backend = OpenAIBackend(server.url, "m")
    backend.generate(["a"], max_new_tokens=1)
    OpenAIBackend(server.url, "m", api_key="").generate(["a"], max_new_tokens=1)
    seen = [r.headers.get("authorization") for r in server.requests]
    assert seen == ["Bearer from-palaestra", "Bearer from-openai", None]
    monkeypatch.setenv("OPENAI_API_KEY", "after-unpickling")
    copy = pickle.loads(pickle.dumps(backend))
    copy.generate(["a"], max_new_tokens=1)
    assert server.requests[-1].headers["authorization"] == "Bearer after-unpickling"
