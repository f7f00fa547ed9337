"""Every named endpoint of a running app, fuzzed through the raw HTTP API with hostile values.

The endpoints and their parameters come from the app itself (`view_api`), so an endpoint added later is
fuzzed without editing this file. With a fixed seed and a bounded number of cases per endpoint, every
response must be a valid result or a clean error (a short message, no traceback, no component reprs, at
most ~80 characters of a bad value), every refusal must be one line in the server's log, and the server
must still answer afterwards. `pytest -s` prints the counts per endpoint.
"""

import itertools
import json
import random
import re
import urllib.error
import urllib.request

import pytest
from conftest import running_app
from gradio_client import Client

SEED = 10
CASES_PER_ENDPOINT = 40
ZEROS = [0.0] * 8
DEEP = "[" * 49_000 + "]" * 49_000  # 98,000 characters: under the latent JSON's length limit
# Raw JSON text, some of which Python's own json.dumps cannot write: the parser's limits are fuzzed too.
RAW_FRAGMENTS = ["1" + "0" * 5000, "[" * 5000 + "]" * 5000, "NaN", "-Infinity", "1e999"]
HOSTILE = [
    None, True, False, 0, -1, 1, 3, 2**31, 2**32, 2**64, 10**309, -(10**309), int("9" * 4000),
    0.5, -0.0, 1.5, 1e39, -1e39, 1e308, float("nan"), float("inf"), float("-inf"),
    "", " ", "0", "1", "-1", "2.5", "1e39", "nan", "inf", "abc", "true", "None", "9" * 5000, "x" * 200_000,
    "\u0000", "\ud800", "🙂" * 50, "3, 8, 12", "1 " * 65, "{", DEEP, '{"a": ' * 5000 + "1" + "}" * 5000,
    "slerp", "lerp", "SLERP", "Shirt", "Bag", "Hat", "seed=7&class=Bag&d1=2", "seed=1&psi=nan", "z=AAAA",
    "seed=" + "9" * 5000, "?__theme=dark", "seed=1&seed=2&colour=red",
    [], [1], ["slerp"], [None] * 3, {}, {"mode": 1}, {"seed": {"a": 1}}, {"seed": "1", "z": "AAAA"},
    json.loads("[" * 500 + "]" * 500), {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}},
    {"path": "/tmp/\ud800", "meta": {"_type": "gradio.FileData"}},
]  # fmt: skip
OUTPUT_LIMIT = 300  # characters in an error message
REPEATS = re.compile(r"(.)\1{80}")  # 81 equal characters in a row: a bad value quoted at length


@pytest.fixture(scope="module")
def app(tiny_conditional_model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "app.log"
    with running_app(str(tiny_conditional_model_dir), log_path=log) as url:
        yield url, Client(url, verbose=False), log


@pytest.fixture(scope="module")
def exported(app) -> dict:
    """The app's own latent JSON for seed 1 in class Bag, as a dict."""
    return json.loads(app[1].predict(1, 1.0, "Bag", "", *ZEROS, api_name="/render")[2])


def call(url: str, api_name: str, body: str) -> tuple[str, object]:
    """POST `body` to a named endpoint, as any HTTP client can: ("ok", outputs), ("error", message), or
    ("rejected", detail) when Gradio refuses the body itself (HTTP 4xx)."""
    request = urllib.request.Request(
        f"{url}gradio_api/call/{api_name.strip('/')}", body.encode(), {"Content-Type": "application/json"}
    )
    try:
        event_id = json.loads(urllib.request.urlopen(request, timeout=60).read())["event_id"]
    except urllib.error.HTTPError as error:
        assert 400 <= error.code < 500, f"{api_name}: HTTP {error.code}"
        return "rejected", error.read().decode()
    stream = urllib.request.urlopen(f"{url}gradio_api/call/{api_name.strip('/')}/{event_id}", timeout=120).read()
    events = re.findall(r"^event: (\w+)\ndata: (.*)$", stream.decode(), flags=re.MULTILINE)
    kind, data = next((kind, data) for kind, data in reversed(events) if kind in ("complete", "error"))
    payload = json.loads(data)
    return ("ok", payload) if kind == "complete" else ("error", payload and payload.get("error"))


def body(values: list) -> str:
    return '{"data": [' + ", ".join(v if isinstance(v, RawJson) else json.dumps(v) for v in values) + "]}"


class RawJson(str):
    """A fragment of JSON text put into a request's body as it is."""


def valid_arguments(url: str, api_name: str, parameters: list[dict], valid_latent: str) -> list:
    """Arguments the endpoint accepts: each parameter's default, and for those without one the first of a few
    plausible values (by type) that make a call succeed; the cases start from them."""
    plausible = {"str": [valid_latent, "1", "seed=7&class=Bag", "slerp", ""], "float": [0.5, 7], "int": [7]}
    choices = [
        [p["parameter_default"]] if p.get("parameter_has_default") else plausible.get(p["python_type"]["type"], [None])
        for p in parameters
    ]
    tried = list(itertools.islice(itertools.product(*choices), 50))
    return list(next((args for args in tried if call(url, api_name, body(list(args)))[0] == "ok"), tried[0]))


def cases(base: list, rng: random.Random, valid_latent: str) -> list[list]:
    """CASES_PER_ENDPOINT argument lists: `base` (valid), then one or more of its values replaced by hostile
    ones, and some with too few or too many values."""
    hostile = [*HOSTILE, valid_latent, *(RawJson(fragment) for fragment in RAW_FRAGMENTS)]
    hostile += [valid_latent.replace('"label": 1', '"label": true'), latent_with(valid_latent, [1e39] * 16)]
    hostile += [latent_with(valid_latent, [0.0] * 16), latent_with(valid_latent, [3e38] * 16)]
    drawn = [base]
    while len(drawn) < CASES_PER_ENDPOINT:
        args = list(base)
        if not args or rng.random() < 0.15:  # a wrong number of values
            count = rng.choice([n for n in range(len(args) + 3) if n != len(args)])
            args = (args + [rng.choice(hostile) for _ in range(count)])[:count]
        else:
            for index in rng.sample(range(len(args)), min(len(args), rng.choice([1, 1, 1, 2, len(args)]))):
                args[index] = rng.choice(hostile)
        drawn.append(args)
    return drawn


def latent_with(latent_json: str, values: list[float]) -> str:
    return json.dumps({**json.loads(latent_json), "latent": values})


def check_clean(api_name: str, args: list, message) -> None:
    shown = f"{api_name} with {str(args)[:200]}: {str(message)[:400]!r}"
    assert isinstance(message, str) and message.strip(), f"no message: {shown}"
    assert len(message) <= OUTPUT_LIMIT, f"message too long: {shown}"
    for leak in ("Traceback", "object at 0x", "<gradio.", 'File "'):
        assert leak not in message, f"{leak!r} in the message: {shown}"
    assert not REPEATS.search(message), f"a bad value quoted at length: {shown}"


def test_every_named_endpoint_answers_hostile_input_with_a_result_or_a_clean_error(app):
    url, client, log = app
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert len(named) >= 12, sorted(named)
    valid_latent = client.predict(1, 1.0, "Bag", "", *ZEROS, api_name="/render")[2]
    bases = {name: valid_arguments(url, name, info["parameters"], valid_latent) for name, info in named.items()}
    start = len(log.read_text())
    rng = random.Random(SEED)
    counts, refusals = {}, 0
    for api_name, info in sorted(named.items()):
        tally = counts[api_name] = {"cases": 0, "ok": 0, "error": 0, "rejected": 0}
        for args in cases(bases[api_name], rng, valid_latent):
            kind, payload = call(url, api_name, body(args))
            tally["cases"] += 1
            tally[kind] += 1
            if kind == "ok":
                assert isinstance(payload, list) and len(payload) == len(info["returns"]), (api_name, args, payload)
            elif kind == "error":
                check_clean(api_name, args, payload)
                refusals += 1
            else:
                assert "Traceback" not in payload and len(payload) < 2000, (api_name, payload[:300])
        assert call(url, "/render", body([3, 1.0, None, "", *ZEROS]))[0] == "ok", f"no answer after {api_name}"
    print(f"\nfuzz (seed {SEED}, {CASES_PER_ENDPOINT} cases per endpoint): cases / results / clean errors / "
          "bodies Gradio rejected")  # fmt: skip
    for api_name, tally in counts.items():
        print(f"  {api_name:22} {tally['cases']:3} / {tally['ok']:3} / {tally['error']:3} / {tally['rejected']:3}")
    logged = log.read_text()[start:].splitlines()
    assert all(line.startswith("app.py: refused ") for line in logged), [ln for ln in logged if "refused" not in ln]
    assert len(logged) == refusals, (len(logged), refusals)
    # clean, but caught only by `user_errors`' net: each deserves a check with a precise message
    assert not [line for line in logged if "[unforeseen, at " in line]
    assert sum(tally["ok"] for tally in counts.values()) >= len(counts), counts  # not everything refused
    assert sum(tally["error"] for tally in counts.values()) >= 3 * len(counts), counts


class Latent(dict):
    """The app's own exported latent JSON, with these fields changed."""


@pytest.mark.parametrize(
    ("api_name", "args", "message"),
    [  # the unhandled inputs of issue 10 (53 of 1,017 raw-API cases), each through the raw API
        ("/render", [10**309, 1.0, None, "", *ZEROS], "Seed must be in 0 … 4294967295, got 1.000e+309."),
        ("/render", [1, 10**309, None, "", *ZEROS], "Truncation ψ must be in 0 … 2, got 1.000e+309."),
        ("/render", [1, 1.0, None, "", 10**400, *ZEROS[1:]], "Direction 1 must be in -3 … 3, got 1.000e+400."),
        ("/interpolation_frame", ["1", "2", "slerp", None, 10**309], "t must be in 0 … 1, got 1.000e+309."),
        ("/interpolate", ["1", "2", 5, ["slerp"], None], "Interpolation must be one of slerp, lerp, got ['slerp']."),
        ("/interpolate", ["1", "2", 5, {"mode": 1}, None], "Interpolation must be one of slerp, lerp, got {'mode'"),
        ("/interpolation_frame", ["1", "2", {"a": []}, None, 0.5], "Interpolation must be one of slerp, lerp"),
        ("/render_latent", [Latent(latent=[1e39] * 16)], "Latent: the latent must contain finite numbers only"),
        ("/interpolate", [Latent(latent=[0.0] * 16), Latent(latent=[0.0] * 16), 5, "slerp", None], "A is all zeros"),
        ("/interpolation_frame", ["1", Latent(latent=[0.0] * 16), "slerp", None, 0.5], "B is all zeros"),
        ("/render_latent", [DEEP], "Latent: not valid latent JSON (nested too deeply)."),
        ("/render_latent", [Latent(label=True)], "Latent: label must be a class index in 0 … 2."),
        ("/samples", [0, 4, 1.0, None, 1], "Every class must be true or false, got 1."),
        ("/render", [1, 1.0], "render takes 12 values (seed, psi, class_name, base, d1, d2, d3, d4, d5, d6, d7, d8"),
        ("/interpolation_frame", ["1"], "interpolation_frame takes 5 values (a, b, mode, class_name, t), got 1."),
        ("/open_link", [], "open_link takes 1 value (query), got 0."),
        ("/render", [1, 1.0, None, "", *ZEROS, 0.0], "render takes 12 values"),
        ("/render_latent", [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}], "Cannot move /etc/passwd"),
    ],
)  # fmt: skip
def test_each_unhandled_input_of_the_issue_is_a_clean_error_through_the_raw_api(app, exported, api_name, args, message):
    url, _, log = app
    args = [json.dumps({**exported, **arg}) if isinstance(arg, Latent) else arg for arg in args]
    start = len(log.read_text())
    kind, error = call(url, api_name, body(args))
    assert kind == "error" and error.startswith(message), error
    check_clean(api_name, args, error)
    (line,) = log.read_text()[start:].splitlines()  # one line, and no traceback
    assert re.fullmatch(rf"app\.py: refused {api_name.strip('/')}: {re.escape(error)}( \[\w+\])?", line), line
    assert call(url, "/render", body([3, 1.0, None, "", *ZEROS]))[0] == "ok"
